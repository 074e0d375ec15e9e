#include "runtime/core/group_outcome.h"

#include "runtime/core/backend.h"

#include <cstdio>

namespace amlflow::runtime {

const char* to_string(FailureKind kind) {
    switch (kind) {
        case FailureKind::none: return "none";
        case FailureKind::exit_code: return "exit code";
        case FailureKind::signal: return "signal";
        case FailureKind::timeout: return "timeout";
        case FailureKind::hang: return "hang";
        case FailureKind::spawn: return "spawn";
        case FailureKind::stopped: return "stopped";
        case FailureKind::lost: return "lost";
    }
    return "unknown";
}

std::string rank_name(int rank) { return "rank " + std::to_string(rank); }

std::string seconds(EventLoop::Clock::duration duration) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", std::chrono::duration<double>(duration).count());
    return text;
}

AttemptResult attempt_result_from(const GroupOutcome& outcome, const std::vector<std::string>& rank_logs) {
    AttemptResult result;
    result.succeeded = outcome.succeeded;
    const Failure& failure = outcome.failure;
    result.root_rank = failure.rank;
    result.message = failure.message;
    result.facts.log_lines = outcome.tail;
    result.error_file = outcome.error_file;
    switch (failure.kind) {
        case FailureKind::exit_code: result.facts.reason = "exit"; result.facts.exit_code = failure.status.code; break;
        case FailureKind::signal: result.facts.reason = "signal"; result.facts.signal = failure.status.signal; break;
        case FailureKind::timeout: result.facts.reason = "timeout"; break;
        case FailureKind::hang: result.facts.reason = "hang"; break;
        case FailureKind::spawn: result.facts.reason = "setup"; break;
        case FailureKind::stopped: result.facts.reason = "canceled"; break;
        case FailureKind::lost: result.facts.reason = "lost"; break;
        case FailureKind::none: break;
    }
    if (failure.rank >= 0 && static_cast<size_t>(failure.rank) < rank_logs.size()) {
        result.root_log = rank_logs[static_cast<size_t>(failure.rank)];
    }
    return result;
}

}  // namespace amlflow::runtime
