// How a supervised group of ranks ended, whoever supervised it: a RankGroup of local
// processes or a ShimGroup of ranks started by mpirun. The backend turns this into the
// executor's AttemptResult; keeping one shape means one failure report for every place.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "runtime/core/event_loop.h"
#include "runtime/core/process.h"

namespace amlflow::runtime {

enum class FailureKind {
    none,
    exit_code,  // a rank exited with a code other than 0
    signal,     // a rank was killed by a signal (SIGKILL, SIGSEGV, ...)
    timeout,    // the attempt's timeout passed; no rank is to blame (rank == -1)
    hang,       // a rank wrote nothing for hang_timeout
    spawn,      // a rank could not be started (or its log file opened)
    stopped,    // stop_all() from outside, e.g. Ctrl-C (rank == -1)
    lost,       // a rank's shim went away without its exit (its host or the shim died)
};
const char* to_string(FailureKind kind);

// The words every group's failure messages use: "rank 3", "2.5 s".
std::string rank_name(int rank);
std::string seconds(EventLoop::Clock::duration duration);

struct RankExit {
    int rank = -1;
    ExitStatus status;
    EventLoop::Clock::time_point when;
};

struct Failure {
    FailureKind kind = FailureKind::none;
    int rank = -1;       // the root-cause rank, or -1
    ExitStatus status;   // for exit_code and signal
    std::string message; // one lowercase sentence: "rank 1 exited with code 7"
    EventLoop::Clock::time_point when;
};

struct GroupOutcome {
    bool succeeded = false;          // every rank exited 0 and nothing failed
    Failure failure;                 // kind none when succeeded
    std::vector<std::string> tail;   // the root-cause rank's last lines (final, after EOF)
    std::vector<RankExit> exits;     // every rank that ran, in the order their exits were seen
    std::string error_file;          // the root-cause rank's torchelastic error file, as written
};

// A rank that has started: its number in the job, its process and its log.
struct RankStarted {
    int rank = 0, local_rank = 0, node_rank = 0;
    pid_t pid = 0;
    std::string log_path;
    std::string host;  // the host it runs on, as the compute lists it; "" on this machine
};

// What a backend needs of a group, whichever kind supervises the ranks.
class SupervisedGroup {
public:
    using Clock = EventLoop::Clock;
    virtual ~SupervisedGroup() = default;
    // Callbacks run from the loop. Set them before the group starts.
    virtual void on_rank_started(std::function<void(const RankStarted&)> callback) = 0;
    virtual void on_rank_exit(std::function<void(const RankExit&)> callback) = 0;
    virtual void on_done(std::function<void(const GroupOutcome&)> callback) = 0;
    // Stops every rank: SIGTERM, SIGKILL after `grace`. When nothing has failed yet,
    // records a failure of kind stopped with `why` as its message.
    virtual void stop_all(Clock::duration grace, const std::string& why = "stopped") = 0;
};

}  // namespace amlflow::runtime
