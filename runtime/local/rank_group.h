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
//
// By default a rank with a log path writes that file itself (its stdout and stderr are the
// file, core/log_tail.h) and the group only reads back what the display shows: relaying
// every byte through amlflow costs more than the 1.2x of direct writes that DESIGN §6
// allows. There are no pipes then; the log is complete at the exit, and what the rank
// left in its process group is SIGKILLed at once. `whole_lines` (AMLFLOW_LOG_LINES=1)
// relays through pipes instead (core/log_relay.h), for logs whose lines are never split
// by the other stream and whose progress bars keep their last state only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/group_outcome.h"
#include "runtime/core/file_watch.h"
#include "runtime/core/log_relay.h"
#include "runtime/core/log_tail.h"
#include "runtime/core/process.h"

namespace amlflow::runtime {

struct RankSpec {
    std::vector<std::string> argv;  // never through a shell
    std::vector<std::string> env;   // the rank's entire environment, "NAME=value"
    std::string cwd;                // empty: the interpreter's
    std::string log_path;           // appended to; empty: no file
    std::string label;              // the terminal prefix, e.g. "train 1"; empty: "rank N"
    std::string error_file;         // the rank's TORCHELASTIC_ERROR_FILE; read if it fails first
    int rank = -1, local_rank = 0, node_rank = 0;  // its number in the job; -1: its index
};

struct RankGroupOptions {
    using Duration = EventLoop::Clock::duration;
    std::string launcher;                          // amlflow-launch (see process.h)
    Duration timeout = Duration::zero();           // the whole attempt; zero: none
    Duration hang_timeout = Duration::zero();      // per rank, without output; zero: none
    Duration grace = std::chrono::seconds(5);      // SIGTERM, then SIGKILL this much later
    Duration linger = std::chrono::seconds(1);     // see the header comment
    std::size_t tail_lines = 50;
    bool whole_lines = false;                      // relay through pipes (see above)
};

class RankGroup : public SupervisedGroup {
public:
    using Clock = EventLoop::Clock;

    RankGroup(EventLoop& loop, RankGroupOptions options, LineSink* sink = nullptr);
    // Whatever still runs is SIGKILLed (process groups) and reaped at once, without grace.
    // Never destroy the group from inside one of its callbacks.
    ~RankGroup() override;
    RankGroup(const RankGroup&) = delete;
    RankGroup& operator=(const RankGroup&) = delete;

    // Callbacks run from the loop. Set them before start().
    // on_rank_started runs for each rank right after it is spawned.
    void on_rank_started(std::function<void(const RankStarted&)> callback) override;
    void on_rank_exit(std::function<void(const RankExit&)> callback) override;
    void on_failure(std::function<void(const Failure&)> callback);  // once, at the root cause
    void on_done(std::function<void(const GroupOutcome&)> callback) override;

    // Opens the log files and spawns every rank, in order. If one cannot start, that is the
    // root cause (kind spawn): the ranks already started are stopped, the rest never start,
    // and false is returned with *error set; the loop must still run until done(). Once.
    bool start(std::vector<RankSpec> ranks, std::string* error);

    // Stops every rank: SIGTERM to each process group, SIGKILL after `grace`. When nothing
    // has failed yet, records a failure of kind stopped with `why` as its message.
    void stop_all(Clock::duration grace, const std::string& why = "stopped") override;

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
        std::unique_ptr<LogRelay> log;       // relayed through pipes, or
        std::unique_ptr<LogTail> file_log;   // written by the rank itself
        bool exited = false;
        bool finished = false;  // reaped and its pipes closed
        bool hung = false;      // silent past hang_timeout: asked for its stacks
        EventLoop::TimerId hang_timer = 0;
        EventLoop::TimerId linger_timer = 0;
    };

    bool start_rank(int index, std::string* error);
    bool open_log(Rank& rank, int index, SpawnSpec* spawn, std::string* error);
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
    std::unique_ptr<FileWatch> watch_;  // for the file_logs
    std::vector<std::unique_ptr<Rank>> ranks_;
    std::function<void(const RankStarted&)> on_rank_started_;
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
