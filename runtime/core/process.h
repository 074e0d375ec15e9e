// One supervised child process, started as ninja and Nix start theirs.
//
// posix_spawn (never fork in the interpreter, never a shell): argv as given, the whole
// environment as given, stdin from /dev/null, stdout and stderr to two pipes whose
// parent ends are non-blocking and close-on-exec, an empty signal mask and default
// dispositions, and a process group of its own (pgid == pid) so that TERM and KILL reach
// the rank and everything it started, and a Ctrl-C at the terminal reaches only us.
//
// posix_spawn cannot set a parent-death signal, so the child is spawned through the
// `amlflow-launch` helper (runtime/local/launch_main.cc), which sets PR_SET_PDEATHSIG to
// SIGKILL and then execs the real program: if the interpreter dies, even by SIGKILL, its
// ranks die with it. The kernel sends that signal when the *thread* that spawned the child
// exits, so spawn from the loop's thread, which lives as long as the children.
//
// Exits are seen through SIGCHLD (the event loop's signal callback) and
// waitid(P_PID, pid, WNOWAIT): each Process asks only about its own pid, so it never
// steals another component's child. The exit is reported while the child is still a
// zombie and reaped only by reap() (or the destructor): as long as the zombie exists its
// pid, and with it the process-group id, cannot be recycled, so signal_group() and stop()
// can still reach the rank's orphaned descendants without any risk of hitting a stranger.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/types.h>

#include "runtime/core/event_loop.h"

namespace amlflow::runtime {

// Initializes `attr` for a process that outlives amlflow on purpose (the per-run reaper, a
// `run --detach` driver): a session of its own, no signal blocked, every signal at its
// default, whatever amlflow had set.
void init_session_spawn(posix_spawnattr_t* attr);

// How a process ended, as waitid reported it.
struct ExitStatus {
    bool signaled = false;     // killed by a signal rather than exiting
    int code = 0;              // the exit code when !signaled; -1 if the status was lost
    int signal = 0;            // the terminating signal when signaled
    bool core_dumped = false;

    bool success() const { return !signaled && code == 0; }
    // "exit code 3", "signal 11 (SIGSEGV), core dumped".
    std::string describe() const;
};

struct SpawnSpec {
    std::vector<std::string> argv;  // argv[0] is looked up on the PATH of `env` (execvp)
    std::vector<std::string> env;   // the child's entire environment, "NAME=value"
    std::string cwd;                // empty: the interpreter's own working directory
    // The amlflow-launch helper. Empty: the child is spawned directly, argv[0] resolved
    // against `env`'s PATH here, and it gets no parent-death signal.
    std::string launcher;
    // The child's stdout and stderr both, instead of the two pipes (a log file the rank
    // writes itself, core/log_tail.h); -1: pipes. The caller keeps and closes it.
    int output_fd = -1;
};

// The amlflow-launch that the build puts beside the running executable
// (/proc/self/exe's folder), or "" when there is none there.
std::string launcher_beside_executable();
// Any of amlflow's helper programs there (amlflow-rank, the rank shim), or "".
std::string helper_beside_executable(const std::string& name);

class Process {
public:
    using Clock = EventLoop::Clock;

    explicit Process(EventLoop& loop);
    // A process still running is killed (SIGKILL to its group) and reaped; a zombie is
    // reaped (its group SIGKILLed first). Blocks until the kernel has ended the process,
    // which is quick except for one stuck in the kernel (a GPU driver tearing down).
    // The EventLoop must outlive every Process registered with it.
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    // Called once, from the loop, when the child has exited (it is still a zombie then).
    // Set it before start().
    void on_exit(std::function<void(const ExitStatus&)> callback);

    // Spawns the child. On failure (no such working directory, launcher missing, no such
    // program when spawning directly, out of fds) returns false and sets *error to one
    // lowercase sentence; nothing is left running. A program the launcher cannot exec is
    // not an error here: the child prints why on stderr and exits 127 (or 126).
    bool start(const SpawnSpec& spec, std::string* error);

    pid_t pid() const { return pid_; }
    bool started() const { return pid_ > 0; }
    bool exited() const { return exited_; }
    bool reaped() const { return reaped_; }
    const ExitStatus& status() const { return status_; }

    // The parent's read ends of the output pipes. take_*() hands the fd over to the caller
    // (the log relay), which must close it; each returns -1 once taken, and always when
    // the output went to SpawnSpec::output_fd.
    int take_stdout();
    int take_stderr();

    // Sends `sig` to the child's whole process group (kill(-pgid, sig)). Returns false once
    // the child is reaped: the group id may belong to someone else by then.
    bool signal_group(int sig);

    // SIGTERM to the group now, SIGKILL to the group at now + grace, driven by a loop
    // timer. The KILL is sent even if the leader exited meanwhile, as long as it is not
    // reaped, since descendants that ignored TERM keep the group alive. A second call can
    // only bring the KILL forward. grace <= 0 sends SIGKILL at once.
    void stop(Clock::duration grace);

    // Collects the zombie (waitpid). Call after on_exit, once the group needs no more
    // signals. No-op before the exit or when already reaped.
    void reap();

private:
    void check_exit();
    void close_pipes();
    void forget_loop();

    EventLoop& loop_;
    std::function<void(const ExitStatus&)> on_exit_;
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    int stderr_fd_ = -1;
    bool exited_ = false;
    bool reaped_ = false;
    ExitStatus status_;
    EventLoop::SignalId sigchld_ = 0;
    EventLoop::TimerId kill_timer_ = 0;
    Clock::time_point kill_at_;
};

}  // namespace amlflow::runtime
