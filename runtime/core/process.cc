#include "runtime/core/process.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace amlflow::runtime {

void init_session_spawn(posix_spawnattr_t* attr) {
    posix_spawnattr_init(attr);
    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &all);
}
namespace {

bool is_executable_file(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// execvp's lookup, done here because posix_spawnp would search the *interpreter's* PATH,
// not the one the rank is given.
std::string find_program(const std::string& name, const std::vector<std::string>& env) {
    if (name.find('/') != std::string::npos) return name;
    std::string path = "/bin:/usr/bin";  // execvp's default when PATH is unset
    for (const auto& entry : env) {
        if (entry.compare(0, 5, "PATH=") == 0) path = entry.substr(5);
    }
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        if (!dir.empty() && is_executable_file(dir + "/" + name)) return dir + "/" + name;
        start = end + 1;
    }
    return {};
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

// The rank's two output pipes: non-blocking, close-on-exec read ends for us.
bool make_pipes(int out[2], int err[2], std::string* error) {
    if (pipe2(out, O_CLOEXEC) != 0) {
        if (error) *error = std::string("cannot create a pipe: ") + strerror(errno);
        return false;
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
        if (error) *error = std::string("cannot create a pipe: ") + strerror(errno);
        close(out[0]);
        close(out[1]);
        return false;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    // A rank that prints a lot fills a 64 KiB pipe in microseconds; a bigger pipe means
    // fewer wake-ups and context switches for both sides (measured: about a fifth less
    // relay time for 8 ranks x 100 MB). Best effort: the system limit may refuse it.
    fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
    return true;
}

// Owns the posix_spawn attribute objects so that every return path destroys them.
struct SpawnAttributes {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;

    SpawnAttributes(int out_fd, int err_fd, const std::string& cwd) {
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
        posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
        // Nothing else of ours, nor what our own caller left open without close-on-exec
        // (a shell's or CI runner's pipes), reaches the rank (DESIGN §4).
        posix_spawn_file_actions_addclosefrom_np(&actions, 3);
        // Last, so that a relative launcher or program path would still be taken from
        // where we are; start() makes the launcher path absolute anyway.
        if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());

        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setpgroup(&attr, 0);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        // Every signal back to its default, not only the three the loop handles: an
        // interpreter that ignores SIGPIPE must not hand that on to the ranks.
        sigset_t all;
        sigfillset(&all);
        posix_spawnattr_setsigdefault(&attr, &all);
    }
    ~SpawnAttributes() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

}  // namespace

std::string ExitStatus::describe() const {
    if (!signaled) return code < 0 ? "unknown exit status" : "exit code " + std::to_string(code);
    std::string text = "signal " + std::to_string(signal);
    if (const char* name = sigabbrev_np(signal)) text += std::string(" (SIG") + name + ")";
    if (core_dumped) text += ", core dumped";
    return text;
}

std::string helper_beside_executable(const std::string& name) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return {};
    std::string path(self, static_cast<std::size_t>(n));
    path = path.substr(0, path.rfind('/') + 1) + name;
    return is_executable_file(path) ? path : std::string();
}

std::string launcher_beside_executable() { return helper_beside_executable("amlflow-launch"); }

Process::Process(EventLoop& loop) : loop_(loop) {}

Process::~Process() {
    forget_loop();
    if (pid_ > 0 && !reaped_) {
        // Done with this rank: its descendants go with it, then the zombie is collected.
        kill(-pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    close_pipes();
}

void Process::on_exit(std::function<void(const ExitStatus&)> callback) {
    on_exit_ = std::move(callback);
}

bool Process::start(const SpawnSpec& spec, std::string* error) {
    auto fail = [&](std::string message) {
        if (error) *error = std::move(message);
        return false;
    };
    if (pid_ > 0) return fail("process already started");
    if (spec.argv.empty() || spec.argv[0].empty()) return fail("no program to run");
    struct stat st {};
    if (!spec.cwd.empty() && (stat(spec.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
        return fail("working directory '" + spec.cwd + "' does not exist");
    }

    std::string program;
    std::vector<std::string> args;
    if (!spec.launcher.empty()) {
        program = spec.launcher;
        if (program[0] != '/') {
            char here[4096];
            if (getcwd(here, sizeof here)) program = std::string(here) + "/" + program;
        }
        if (!is_executable_file(program)) return fail("launcher '" + spec.launcher + "' is not an executable file");
        args.push_back(program);
        args.push_back(std::to_string(getpid()));
    } else {
        program = find_program(spec.argv[0], spec.env);
        if (program.empty()) return fail("program '" + spec.argv[0] + "' not found on the PATH");
    }
    args.insert(args.end(), spec.argv.begin(), spec.argv.end());

    int out[2] = {-1, spec.output_fd}, err[2] = {-1, spec.output_fd};
    if (spec.output_fd < 0 && !make_pipes(out, err, error)) return false;
    // Subscribed before the spawn so that an exit can never slip past unobserved.
    sigchld_ = loop_.on_signal(SIGCHLD, [this] { check_exit(); });
    int rc;
    {
        SpawnAttributes attributes(out[1], err[1], spec.cwd);
        std::vector<char*> argv = c_strings(args);
        std::vector<char*> envp = c_strings(spec.env);
        rc = posix_spawn(&pid_, program.c_str(), &attributes.actions, &attributes.attr,
                         argv.data(), envp.data());
    }
    if (spec.output_fd < 0) {
        close(out[1]);
        close(err[1]);
    }
    stdout_fd_ = out[0];
    stderr_fd_ = err[0];
    if (rc != 0) {
        pid_ = -1;
        forget_loop();
        close_pipes();
        return fail("cannot start '" + spec.argv[0] + "': " + strerror(rc));
    }
    return true;
}

int Process::take_stdout() {
    int fd = stdout_fd_;
    stdout_fd_ = -1;
    return fd;
}

int Process::take_stderr() {
    int fd = stderr_fd_;
    stderr_fd_ = -1;
    return fd;
}

void Process::check_exit() {
    if (exited_ || pid_ <= 0) return;
    siginfo_t info{};
    int rc;
    do {
        rc = waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        if (errno != ECHILD) return;
        // Someone else collected our child (a stray waitpid(-1)); its status is gone and so
        // is any safe way to signal its group.
        status_ = ExitStatus{false, -1, 0, false};
        reaped_ = true;
    } else if (info.si_pid == 0) {
        return;  // the SIGCHLD was some other child's
    } else if (info.si_code == CLD_EXITED) {
        status_ = ExitStatus{false, info.si_status, 0, false};
    } else {
        status_ = ExitStatus{true, 0, info.si_status, info.si_code == CLD_DUMPED};
    }
    exited_ = true;
    loop_.remove_signal(sigchld_);
    sigchld_ = 0;
    if (on_exit_) on_exit_(status_);
}

bool Process::signal_group(int sig) {
    if (pid_ <= 0 || reaped_) return false;
    return kill(-pid_, sig) == 0;
}

void Process::stop(Clock::duration grace) {
    if (pid_ <= 0 || reaped_) return;
    if (grace <= Clock::duration::zero()) {
        loop_.cancel(kill_timer_);
        kill_timer_ = 0;
        signal_group(SIGKILL);
        return;
    }
    Clock::time_point when = Clock::now() + grace;
    if (kill_timer_ != 0 && when >= kill_at_) return;  // already stopping, KILL sooner
    if (kill_timer_ == 0) signal_group(SIGTERM);
    loop_.cancel(kill_timer_);
    kill_at_ = when;
    kill_timer_ = loop_.at(when, [this] {
        kill_timer_ = 0;
        signal_group(SIGKILL);
    });
}

void Process::reap() {
    if (!exited_ || reaped_) return;
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    loop_.cancel(kill_timer_);
    kill_timer_ = 0;
}

void Process::close_pipes() {
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
}

void Process::forget_loop() {
    if (sigchld_ != 0) loop_.remove_signal(sigchld_);
    sigchld_ = 0;
    loop_.cancel(kill_timer_);
    kill_timer_ = 0;
}

}  // namespace amlflow::runtime
