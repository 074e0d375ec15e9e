// The ranks of one attempt, supervised together: spawned at once, their output relayed,
// every exit reported as it happens, and the first failure taken as the root cause, after
// which the rest of the group is stopped (SIGTERM to each process group, SIGKILL after a
// grace period). A timeout for the whole attempt and a hang timeout per rank (no output
// for that long) are failures too; both are loop timers, so nothing here ever sleeps.
//
// The group knows nothing of plans, steps or restarts: a backend hands it argv, env, cwd
// and a log path per rank, runs the loop until done(), and reads outcome(). Restarting is
// starting a new RankGroup.
//
// Ordering, which is what makes the failure report trustworthy: when a rank's exit is
// seen, its pipes are drained first (everything the rank wrote is in them by then) and its
// log file written, then on_rank_exit runs, then (if it failed first) on_failure. So the
// log is complete and in order whenever an exit is reported. done() waits, in addition,
// for every pipe to reach EOF; descendants of a rank that hold its pipes open are given
// `linger` after the rank's exit and are then SIGKILLed with its process group.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/log_relay.h"
#include "runtime/core/process.h"

namespace amlflow::runtime {

struct RankSpec {
    std::vector<std::string> argv;  // never through a shell
    std::vector<std::string> env;   // the rank's entire environment, "NAME=value"
    std::string cwd;                // empty: the interpreter's
    std::string log_path;           // appended to; empty: no file
    std::string label;              // the terminal prefix, e.g. "train 1"; empty: "rank N"
};

struct RankGroupOptions {
    using Duration = EventLoop::Clock::duration;
    std::string launcher;                          // amlflow-launch (see process.h)
    Duration timeout = Duration::zero();           // the whole attempt; zero: none
    Duration hang_timeout = Duration::zero();      // per rank, without output; zero: none
    Duration grace = std::chrono::seconds(5);      // SIGTERM, then SIGKILL this much later
    Duration linger = std::chrono::seconds(1);     // see the header comment
    std::size_t tail_lines = 50;
};

enum class FailureKind {
    none,
    exit_code,  // a rank exited with a code other than 0
    signal,     // a rank was killed by a signal (SIGKILL, SIGSEGV, ...)
    timeout,    // the attempt's timeout passed; no rank is to blame (rank == -1)
    hang,       // a rank wrote nothing for hang_timeout
    spawn,      // a rank could not be started (or its log file opened)
    stopped,    // stop_all() from outside, e.g. Ctrl-C (rank == -1)
};
const char* to_string(FailureKind kind);

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
};

class RankGroup {
public:
    using Clock = EventLoop::Clock;

    RankGroup(EventLoop& loop, RankGroupOptions options, LineSink* sink = nullptr);
    // Whatever still runs is SIGKILLed (process groups) and reaped at once, without grace.
    // Never destroy the group from inside one of its callbacks.
    ~RankGroup();
    RankGroup(const RankGroup&) = delete;
    RankGroup& operator=(const RankGroup&) = delete;

    // Callbacks run from the loop. Set them before start().
    void on_rank_exit(std::function<void(const RankExit&)> callback);
    void on_failure(std::function<void(const Failure&)> callback);  // once, at the root cause
    void on_done(std::function<void(const GroupOutcome&)> callback);

    // Opens the log files and spawns every rank, in order. If one cannot start, that is the
    // root cause (kind spawn): the ranks already started are stopped, the rest never start,
    // and false is returned with *error set; the loop must still run until done(). Once.
    bool start(std::vector<RankSpec> ranks, std::string* error);

    // Stops every rank: SIGTERM to each process group, SIGKILL after `grace`. When nothing
    // has failed yet, records a failure of kind stopped with `why` as its message.
    void stop_all(Clock::duration grace, const std::string& why = "stopped");

    // Sends `sig` to one rank's process group (e.g. SIGABRT for a faulthandler dump of a
    // hung Python rank); false if it has already been reaped.
    bool signal_rank(int rank, int sig);

    bool done() const { return done_; }
    const GroupOutcome& outcome() const { return outcome_; }  // final once done()
    const Failure& failure() const { return failure_; }       // known as soon as it happens

    std::size_t size() const { return ranks_.size(); }
    pid_t pid(int rank) const;
    std::vector<std::string> tail(int rank) const;
    std::optional<Clock::time_point> last_output(int rank) const;

private:
    struct Rank {
        RankSpec spec;
        std::unique_ptr<Process> process;
        std::unique_ptr<LogRelay> log;
        bool exited = false;
        bool finished = false;  // reaped and its pipes closed
        bool hung = false;      // silent past hang_timeout: asked for its stacks
        EventLoop::TimerId hang_timer = 0;
        EventLoop::TimerId linger_timer = 0;
    };

    bool start_rank(int index, std::string* error);
    void handle_exit(int index, const ExitStatus& status);
    void handle_closed(int index);
    void check_hang(int index);
    void declare_hang(int index);
    void finish_rank(int index);
    void fail(FailureKind kind, int rank, const ExitStatus& status, std::string message);
    // Records the root cause, once: cancels the timers and tells on_failure.
    bool record_failure(Failure failure);
    void stop_processes(Clock::duration grace);
    void check_done();

    EventLoop& loop_;
    RankGroupOptions options_;
    LineSink* sink_;
    std::vector<std::unique_ptr<Rank>> ranks_;
    std::function<void(const RankExit&)> on_rank_exit_;
    std::function<void(const Failure&)> on_failure_;
    std::function<void(const GroupOutcome&)> on_done_;
    Clock::time_point started_;
    EventLoop::TimerId timeout_timer_ = 0;
    bool start_called_ = false;
    bool done_ = false;
    Failure failure_;
    std::vector<RankExit> exits_;
    GroupOutcome outcome_;
};

}  // namespace amlflow::runtime
