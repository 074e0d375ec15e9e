#include "cli/detach.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <optional>

#include "runtime/core/process.h"

extern char** environ;

namespace amlflow::cli {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

DriverChannel* g_channel = nullptr;

// How long the foreground waits for the driver to record the run, and then for the first
// Azure ML job (an upload, an environment and a new cluster can take a while; past that
// the run goes on and the foreground says so).
constexpr auto kRunWait = std::chrono::seconds(60);
constexpr auto kJobWait = std::chrono::seconds(120);

// A descriptor moved to 10 or above, close-on-exec: clear of the 0-3 the driver is given.
int high(int fd) {
    if (fd < 0 || fd >= 10) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return moved;
}

// The driver: /proc/self/exe (this very program, even if its file was replaced since), in a
// session of its own, stdin /dev/null, stdout and stderr into `early` until it knows its
// run's folder, the pipe as fd 3. Returns its pid, or -1 with *error.
pid_t spawn_driver(const std::vector<std::string>& args, int early, int pipe_end, std::string* error) {
    std::vector<std::string> argv = {"amlflow"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--driver-fd", "3"});
    std::vector<char*> cargv;
    for (std::string& arg : argv) cargv.push_back(arg.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, early, 1);
    posix_spawn_file_actions_adddup2(&actions, early, 2);
    posix_spawn_file_actions_adddup2(&actions, pipe_end, 3);
    posix_spawnattr_t attr;
    runtime::init_session_spawn(&attr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        *error = std::string("cannot start amlflow in the background: ") + strerror(rc);
        return -1;
    }
    return pid;
}

// The driver's exit code once it has ended (it closed the pipe by ending): a signal as 128+N.
int exit_code_of(pid_t pid) {
    int status = 0;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) return 2;
        poll(nullptr, 0, 20);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 2;
}

std::string text_of_fd(int fd) {
    std::string text;
    char buffer[4096];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = pread(fd, buffer, sizeof buffer, static_cast<off_t>(text.size()))) > 0) text.append(buffer, static_cast<size_t>(n));
    return text;
}

std::string last_lines(const fs::path& file, size_t count) {
    std::ifstream in(file);
    std::deque<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
        if (lines.size() > count) lines.pop_front();
    }
    std::string text;
    for (const std::string& kept : lines) text += "  " + kept + "\n";
    return text;
}

// What the driver said so far, line by line.
struct Heard {
    std::string run_id, folder;
    bool remote = false;
    std::string step, job, studio;
    bool ended = false;  // the pipe reached end-of-file
};

std::vector<std::string> fields(const std::string& text) {
    std::vector<std::string> out;
    size_t at = 0;
    for (size_t tab; (tab = text.find('\t', at)) != std::string::npos; at = tab + 1) out.push_back(text.substr(at, tab - at));
    out.push_back(text.substr(at));
    return out;
}

// Reads the pipe until `enough` holds, the pipe ends or `deadline` passes.
void listen(int fd, Heard& heard, std::string& pending, Clock::time_point deadline, bool (*enough)(const Heard&)) {
    while (!heard.ended && !enough(heard)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return;
        pollfd ready{fd, POLLIN, 0};
        int got = poll(&ready, 1, static_cast<int>(std::min<long long>(left, 1000)));
        if (got < 0 && errno != EINTR) return;
        if (got <= 0) continue;
        char buffer[4096];
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            heard.ended = n == 0 || errno != EINTR;
            continue;
        }
        pending.append(buffer, static_cast<size_t>(n));
        for (size_t end; (end = pending.find('\n')) != std::string::npos; pending.erase(0, end + 1)) {
            std::string line = pending.substr(0, end);
            std::vector<std::string> parts = fields(line.substr(line.find(' ') + 1));
            if (line.rfind("run ", 0) == 0 && parts.size() == 3) {
                heard.run_id = parts[0];
                heard.remote = parts[1] == "1";
                heard.folder = parts[2];
            } else if (line.rfind("job ", 0) == 0 && parts.size() == 3) {
                heard.step = parts[0];
                heard.job = parts[1];
                heard.studio = parts[2];
            }
        }
    }
}

void say_started(const Heard& heard, pid_t pid, const std::string& hint) {
    std::cout << "run " << heard.run_id << " started in the background (amlflow pid " << pid << ", its output in "
              << (fs::path(heard.folder) / "driver.log").string() << ")\n";
    if (!heard.job.empty()) {
        std::cout << "  job '" << heard.job << "' submitted for step '" << heard.step << "'"
                  << (heard.studio.empty() ? "" : ": " + heard.studio) << "\n";
    } else if (heard.remote) {
        std::cout << "  no Azure ML job submitted yet after " << kJobWait.count()
                  << " s; the run goes on preparing it in the background\n";
    }
    std::cout << "follow it:  amlflow logs " << heard.run_id << " --follow" << hint << "\n"
              << "show it:    amlflow runs show " << heard.run_id << hint << "\n"
              << "cancel it:  amlflow cancel " << heard.run_id << hint << "\n";
    std::cout.flush();
}

}  // namespace

void DriverChannel::adopt(int fd) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    static DriverChannel channel(fd);
    g_channel = &channel;
}

DriverChannel* DriverChannel::current() { return g_channel; }

void DriverChannel::say(const std::string& line) {
    if (fd_ < 0) return;
    std::string text = line + "\n";
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = write(fd_, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the foreground is gone: nobody to tell
        done += static_cast<size_t>(n);
    }
}

void DriverChannel::run_started(const std::string& run_id, const fs::path& run_folder, bool remote) {
    std::cout.flush();
    std::cerr.flush();
    fs::path log = run_folder / "driver.log";
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    say("run " + run_id + "\t" + (remote ? "1" : "0") + "\t" + run_folder.string());
    if (!remote && fd_ >= 0) {
        close(fd_);
        fd_ = -1;
    }
}

void DriverChannel::job_submitted(const std::string& step, const std::string& job, const std::string& studio) {
    if (fd_ < 0) return;
    say("job " + step + "\t" + job + "\t" + studio);
    close(fd_);
    fd_ = -1;
}

int start_detached(const std::vector<std::string>& driver_args, const std::string& hint) {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) {
        std::cerr << "amlflow: error: cannot create a pipe: " << strerror(errno) << "\n";
        return 1;
    }
    ends[0] = high(ends[0]);
    ends[1] = high(ends[1]);
    // What the driver says before its run has a folder (an error, say) waits in a file of
    // no name, read back if it ends that early.
    std::string pattern = (fs::temp_directory_path() / "amlflow-driver-XXXXXX").string();
    int early = high(mkostemp(pattern.data(), O_CLOEXEC));
    if (early >= 0) unlink(pattern.c_str());
    std::string error = early < 0 ? "cannot create a temporary file: " + std::string(strerror(errno)) : "";
    pid_t pid = early < 0 ? -1 : spawn_driver(driver_args, early, ends[1], &error);
    close(ends[1]);
    if (pid < 0) {
        std::cerr << "amlflow: error: " << error << "\n";
        close(ends[0]);
        return 1;
    }
    Heard heard;
    std::string pending;
    listen(ends[0], heard, pending, Clock::now() + kRunWait, [](const Heard& h) { return !h.run_id.empty(); });
    if (!heard.run_id.empty() && heard.remote) {
        listen(ends[0], heard, pending, Clock::now() + kJobWait, [](const Heard& h) { return !h.job.empty(); });
    }
    close(ends[0]);
    bool started = !heard.run_id.empty() && (!heard.remote || !heard.job.empty() || !heard.ended);
    int code = 0;
    if (started) {
        say_started(heard, pid, hint);
    } else if (heard.run_id.empty() && !heard.ended) {
        std::cerr << "amlflow: error: amlflow in the background (pid " << pid << ") has not started the run after "
                  << kRunWait.count() << " s\n" << text_of_fd(early);
        code = 1;
    } else if (heard.run_id.empty()) {
        code = exit_code_of(pid);
        std::cerr << text_of_fd(early);
    } else {
        // It ended before its first job: all of the run cached, or a failure to say.
        code = exit_code_of(pid);
        if (code == 0) {
            std::cout << "run " << heard.run_id << " finished (nothing left to submit)\nshow it:    amlflow runs show "
                      << heard.run_id << hint << "\n";
        } else {
            std::cerr << "amlflow: error: run " << heard.run_id << " ended before its first job was submitted (exit "
                      << code << "); the last lines of " << (fs::path(heard.folder) / "driver.log").string() << ":\n"
                      << last_lines(fs::path(heard.folder) / "driver.log", 15);
        }
    }
    if (early >= 0) close(early);
    return code;
}

}  // namespace amlflow::cli
