// One short command (ssh, rsync) run to its end on the event loop, its output collected:
// what the preflight checks and the staging of files to hosts are made of. The supervisor's
// loop keeps running meanwhile, and any number of these run side by side (one per host).
//
// The child is a Process (own process group, stdin /dev/null, the parent-death signal
// through amlflow-launch where it is found), so nothing outlives amlflow. Output is read as
// it comes and capped (kMaxOutput per stream, the tail kept), so a chatty command cannot
// fill memory or block on a full pipe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/process.h"

namespace amlflow::runtime {

struct CommandResult {
    bool started = false;      // false: it could not be spawned; `error` says why
    bool timed_out = false;    // the deadline passed and it was killed
    ExitStatus status;
    std::string out;           // its stdout (the tail when over the cap)
    std::string err;           // its stderr (the tail when over the cap)
    std::string error;         // why it did not start

    bool success() const { return started && !timed_out && status.success(); }
    // The last non-empty line of stderr (what ssh or rsync said last), else of stdout.
    std::string last_line() const;
};

class CommandRun {
public:
    using Done = std::function<void(CommandResult)>;
    static constexpr std::size_t kMaxOutput = 1 << 20;

    explicit CommandRun(EventLoop& loop);
    // A command still running is killed (its whole group) and no callback comes.
    ~CommandRun();
    CommandRun(const CommandRun&) = delete;
    CommandRun& operator=(const CommandRun&) = delete;

    // Starts `argv` (found on this process's PATH) with this process's environment and
    // calls `done` once, from the loop, when it has exited and its output is read, or when
    // it ran past `limit` (then killed: TERM, KILL 2 s later). A spawn failure is reported
    // through `done` too, from the loop, never from inside start(). `done` may destroy this,
    // or start the next command. Starting one while another runs is a programming error.
    void start(const std::vector<std::string>& argv, std::chrono::milliseconds limit, Done done);

    bool running() const { return static_cast<bool>(done_); }

private:
    void read_ready(int& fd, std::string& into);
    void finish();

    EventLoop& loop_;
    std::unique_ptr<Process> process_;
    Done done_;
    CommandResult result_;
    int out_fd_ = -1;
    int err_fd_ = -1;
    EventLoop::TimerId deadline_ = 0;
    EventLoop::TimerId finish_timer_ = 0;
};

// This process's environment as "NAME=value" entries (what a CommandRun's child gets).
std::vector<std::string> current_environment();

}  // namespace amlflow::runtime
