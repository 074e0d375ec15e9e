#include "runtime/core/root_cause.h"

namespace amlflow::runtime {

namespace {

// What ranks print when another rank (or the launcher) is gone, as Horovod, NCCL, gloo,
// torch's rendezvous store, Open MPI and torch.distributed.elastic word it. Each is a
// substring of the line; none is a cause of its own.
constexpr std::string_view kPeerGone[] = {
    "Horovod has been shut down",
    "HorovodInternalError",
    "Connection closed by peer",
    "Connection reset by peer",
    "Broken pipe",
    "remote process exiting prematurely",
    "ncclRemoteError",
    "NCCL communicator was aborted",
    "Watchdog caught collective operation timeout",
    "DistNetworkError",
    "failed to recv, got 0 bytes",
    "Socket Timeout",
    "SignalException",
    "got signal: 15",
    "KeyboardInterrupt",
    "has been terminated by the signal",
    "one of the ranks finished execution",
};

bool starts_with_space(const std::string& line) { return !line.empty() && (line[0] == ' ' || line[0] == '\t'); }

}  // namespace

bool peer_went_away(std::string_view line) {
    for (std::string_view pattern : kPeerGone) {
        if (line.find(pattern) != std::string_view::npos) return true;
    }
    return false;
}

TracebackSeen first_traceback(const std::vector<std::string>& lines) {
    TracebackSeen seen;
    size_t i = 0;
    while (i < lines.size() && lines[i].find("Traceback (most recent call last)") == std::string::npos) ++i;
    if (i == lines.size()) return seen;
    seen.found = true;
    // Frames are indented; the first line after them that is not names the exception.
    for (++i; i < lines.size(); ++i) {
        if (starts_with_space(lines[i]) || lines[i].empty()) continue;
        seen.exception = lines[i];
        break;
    }
    // A traceback cut off by the end of the tail still names no other rank: the rank's own.
    seen.own = !peer_went_away(seen.exception);
    return seen;
}

bool only_a_victim(const std::vector<std::string>& lines) {
    TracebackSeen traceback = first_traceback(lines);
    if (traceback.found) return !traceback.own;
    for (const std::string& line : lines) {
        if (peer_went_away(line)) return true;
    }
    return false;
}

int root_cause_rank(const std::vector<int>& ranks, const std::function<std::vector<std::string>(int)>& lines_of) {
    int any_traceback = -1, any_lines = -1;
    for (int rank : ranks) {
        std::vector<std::string> lines = lines_of(rank);
        TracebackSeen traceback = first_traceback(lines);
        if (traceback.found && traceback.own) return rank;
        if (traceback.found && any_traceback < 0) any_traceback = rank;
        if (!lines.empty() && any_lines < 0) any_lines = rank;
    }
    return any_traceback >= 0 ? any_traceback : any_lines;
}

bool reconsider_root_cause(Failure& failure, int count, const std::function<std::vector<std::string>(int)>& lines_of) {
    bool by_a_rank = failure.kind == FailureKind::exit_code || failure.kind == FailureKind::signal ||
                     failure.kind == FailureKind::lost;
    int first = failure.rank;
    if (!by_a_rank || first < 0 || first >= count || !only_a_victim(lines_of(first))) return false;
    for (int rank = 0; rank < count; ++rank) {
        if (rank == first) continue;
        TracebackSeen traceback = first_traceback(lines_of(rank));
        if (!traceback.found || !traceback.own) continue;
        std::string exception = traceback.exception.substr(0, 120);
        if (exception.size() < traceback.exception.size()) exception += "...";
        failure.message = rank_name(rank) + " raised the first error" +
                          (exception.empty() ? "" : " (" + exception + ")") + "; " +
                          failure.message + " after it";
        failure.rank = rank;
        return true;
    }
    return false;
}

}  // namespace amlflow::runtime
