// amlflow-rank STEP: the per-rank shim that mpirun starts in place of the user's program
// (DESIGN §4). It connects back to the supervisor named in AMLFLOW_SHIM_ADDRESS, proves
// the attempt's secret, reports Open MPI's numbering of this rank, and receives the
// program, environment and folder to run. It starts the program in a process group of
// its own and streams its stdout and stderr, then its torchelastic error file and its exit,
// over that one connection. It kills the program's group when the connection closes, when
// its parent (mpirun or orted) dies, when the supervisor falls silent for 30 s (a host cut
// off by the network closes no connection), or when asked to stop; then it also kills every
// process that carries the rank's mark (a child that left the group in its own session).
// Where the supervisor cannot read this host's files, it relays the rank's metrics lines
// too. It exits with the program's status, so mpirun sees the same failure the supervisor
// does.
//
// STEP is only shown in `ps`. Kept to libc, the frame codec and JSON: it starts once per
// rank, on the restart latency's critical path.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error_file.h"
#include "runtime/core/process_sweep.h"
#include "runtime/core/shim_protocol.h"
#include "runtime/shim/log_follow.h"
#include "runtime/shim/metrics_tail.h"
#include "runtime/shim/rank_program.h"

namespace {

using amlflow::runtime::Frame;
using amlflow::runtime::FrameReader;
using amlflow::runtime::FrameType;
using amlflow::runtime::write_frame;
using amlflow::shim::LogFollow;
using amlflow::shim::MetricsTail;
using amlflow::shim::Program;
using nlohmann::json;

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "amlflow-rank: %s\n", message.c_str());
    std::fflush(stderr);
    _exit(127);
}

int env_int(const char* name, int fallback) {
    const char* value = std::getenv(name);
    return value && *value ? std::atoi(value) : fallback;
}

// The supervisor's address is always numeric (this machine's address on the job's network,
// or loopback), so no resolver is needed: the shim is linked statically to run on hosts
// whose C++ runtime differs from this machine's, where glibc's resolver would not work.
int connect_to(const std::string& address) {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) die("bad supervisor address '" + address + "'");
    std::string host = address.substr(0, colon), port = address.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    int number = std::atoi(port.c_str());
    if (number <= 0 || number > 65535) die("bad supervisor address '" + address + "'");
    sockaddr_storage storage{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(number));
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(number));
        length = sizeof *v6;
    } else {
        die("the supervisor's address '" + address + "' is not a numeric address");
    }
    int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
        die("cannot connect to the supervisor at " + address + ": " + std::strerror(errno));
    }
    return fd;
}

// Reads frames until one arrives; dies when the supervisor closes or says no.
Frame read_frame(int fd, FrameReader& reader) {
    std::string error;
    for (;;) {
        if (auto frame = reader.next(&error)) return *frame;
        if (!error.empty()) die(error);
        pollfd wait{fd, POLLIN, 0};
        if (poll(&wait, 1, 60000) == 0) die("the supervisor did not answer within 60 s");
        char buffer[65536];
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("the supervisor closed the connection");
        reader.append(buffer, static_cast<size_t>(n));
    }
}

// fork and exec: the child gets its own process group, a parent-death signal, and
// stdout/stderr on the two pipes. The signals the shim blocks are unblocked again.
pid_t spawn(const Program& program, int out_fd, int err_fd, const sigset_t& blocked) {
    std::vector<char*> argv, envp;
    for (const auto& a : program.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : program.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) die(std::string("cannot fork: ") + std::strerror(errno));
    if (pid > 0) {
        setpgid(pid, pid);  // also in the child: whichever runs first, the group exists
        return pid;
    }
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // As amlflow starts local ranks: an empty signal mask and default dispositions. mpirun
    // may have started us with most signals blocked, and a rank that inherits that mask
    // would never see the SIGTERM that stops it.
    (void)blocked;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    // The rank inherits nothing else: not our connection, not what mpirun left open.
    close_range(3, ~0U, 0);
    if (!program.cwd.empty() && chdir(program.cwd.c_str()) != 0) {
        std::fprintf(stderr, "amlflow-rank: cannot enter '%s': %s\n", program.cwd.c_str(), std::strerror(errno));
        _exit(127);
    }
    execvpe(argv[0], argv.data(), envp.data());
    int error = errno;
    std::fprintf(stderr, "amlflow-rank: cannot run '%s': %s\n", argv[0], std::strerror(error));
    _exit(error == ENOENT || error == ENOTDIR ? 127 : 126);
}

using Clock = std::chrono::steady_clock;

// The running rank: its pipes, its exit, and the deadlines that end it.
struct Supervision {
    int sock = -1, signals = -1;
    std::string mark;                // the rank's mark: every process it started carries it
    MetricsTail metrics{""};
    Clock::time_point heard = Clock::now();       // the supervisor's last frame
    Clock::time_point next_beat = Clock::now() + amlflow::runtime::kHeartbeatInterval;
    int pipes[2] = {-1, -1};  // stdout, stderr
    LogFollow* log = nullptr; // instead of the pipes: the log file the rank writes itself
    pid_t pid = 0;
    bool exited = false, supervisor_gone = false;
    siginfo_t status{};
    Clock::time_point kill_at = Clock::time_point::max();    // SIGKILL the group then
    Clock::time_point linger_until = Clock::time_point::max();  // stop waiting for pipes

    void terminate(int grace_ms) {
        if (pid <= 0) return;
        kill(-pid, SIGTERM);
        auto due = Clock::now() + std::chrono::milliseconds(grace_ms);
        if (due < kill_at) kill_at = due;
    }
    bool pipes_open() const { return pipes[0] >= 0 || pipes[1] >= 0; }
};

// Nobody would hear of this rank again: end it now, with everything it started, wherever
// that went (the loop then waits for its exit).
void supervisor_lost(Supervision& s) {
    if (s.supervisor_gone) return;
    s.supervisor_gone = true;
    if (s.pid > 0) kill(-s.pid, SIGKILL);
    if (!s.mark.empty()) amlflow::runtime::kill_all_marked_processes(s.mark.c_str());
    // On a host cut off from the supervisor, Open MPI's daemon would wait minutes for a
    // mpirun it cannot reach: nothing of the run is left behind, so it goes too (with it
    // the other shims of this host, whose supervisor is the same and as gone).
    pid_t parent = getppid();
    char path[64], name[32] = "";
    std::snprintf(path, sizeof path, "/proc/%d/comm", static_cast<int>(parent));
    if (FILE* comm = std::fopen(path, "r")) {
        if (!std::fgets(name, sizeof name, comm)) name[0] = '\0';
        std::fclose(comm);
    }
    if (std::strncmp(name, "orted", 5) == 0 || std::strncmp(name, "prted", 5) == 0) kill(parent, SIGTERM);
}

void send(Supervision& s, FrameType type, std::string_view payload) {
    if (s.supervisor_gone) return;
    if (!write_frame(s.sock, type, payload)) return supervisor_lost(s);
    s.next_beat = Clock::now() + amlflow::runtime::kHeartbeatInterval;
}

void relay_metrics(Supervision& s, bool final) {
    std::string lines = s.metrics.read_new(final);
    if (!lines.empty()) send(s, FrameType::metrics, lines);
}

void follow_log(Supervision& s, bool final) {
    s.log->pump([&s](FrameType type, std::string_view bytes) { send(s, type, bytes); }, final);
}

// The periodic work: a heartbeat when nothing else was said, new metrics lines, and the
// supervisor's silence, which ends the rank (a partition closes no connection).
void tick(Supervision& s) {
    auto now = Clock::now();
    if (s.supervisor_gone) return;
    if (now - s.heard > amlflow::runtime::kShimSilence) {
        std::fprintf(stderr, "amlflow-rank: no word from the supervisor for %lld s: ending the rank\n",
                     static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(amlflow::runtime::kShimSilence).count()));
        return supervisor_lost(s);
    }
    if (s.metrics.enabled()) relay_metrics(s, false);
    if (s.log) follow_log(s, false);
    if (now >= s.next_beat) send(s, FrameType::heartbeat, "");
}

void relay_pipe(Supervision& s, int index) {
    // Large reads, one frame each: a rank writing fast fills its 1 MiB pipe, and each frame
    // then carries as much as it wrote meanwhile (fewer system calls on both sides).
    static std::vector<char> buffer(1 << 20);
    ssize_t n = read(s.pipes[index], buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        close(s.pipes[index]);
        s.pipes[index] = -1;
        return;
    }
    send(s, index == 0 ? FrameType::out : FrameType::err, std::string_view(buffer.data(), static_cast<size_t>(n)));
}

// Stop and signal frames, including any that came in the same read as the start frame.
void act_on_frames(Supervision& s, FrameReader& reader) {
    std::string error;
    while (auto frame = reader.next(&error)) {
        json body = json::parse(frame->payload, nullptr, false);
        if (frame->type == FrameType::stop) s.terminate(body.is_object() ? body.value("grace_ms", 5000) : 5000);
        if (frame->type == FrameType::signal && body.is_object()) kill(-s.pid, body.value("signal", SIGTERM));
    }
    if (!error.empty()) supervisor_lost(s);
}

void handle_supervisor(Supervision& s, FrameReader& reader) {
    char buffer[4096];
    ssize_t n = read(s.sock, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) return supervisor_lost(s);
    s.heard = Clock::now();
    reader.append(buffer, static_cast<size_t>(n));
    act_on_frames(s, reader);
}

void handle_signals(Supervision& s) {
    signalfd_siginfo info;
    while (read(s.signals, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGCHLD) continue;
        // mpirun forwards SIGTERM (and dies with SIGTERM as our parent-death signal).
        s.terminate(5000);
    }
    if (s.exited) return;
    siginfo_t status{};
    // WNOWAIT: the zombie keeps the group id taken until the leftovers are killed.
    if (waitid(P_PID, static_cast<id_t>(s.pid), &status, WEXITED | WNOHANG | WNOWAIT) == 0 && status.si_pid == s.pid) {
        s.exited = true;
        s.status = status;
        s.linger_until = Clock::now() + std::chrono::seconds(1);
    }
}

// Ticks come at least every 500 ms: heartbeats, metrics and the supervisor's silence.
int poll_timeout(const Supervision& s) {
    auto next = std::min({s.kill_at, s.linger_until, Clock::now() + std::chrono::milliseconds(500)});
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    return ms < 0 ? 0 : static_cast<int>(ms) + 1;
}

void supervise(Supervision& s, FrameReader& reader) {
    while (!s.exited || (s.pipes_open() && Clock::now() < s.linger_until)) {
        pollfd fds[5] = {{s.signals, POLLIN, 0}, {s.sock, POLLIN, 0}, {s.pipes[0], POLLIN, 0}, {s.pipes[1], POLLIN, 0},
                         {s.log ? s.log->watch_fd() : -1, POLLIN, 0}};
        if (s.supervisor_gone) fds[1].fd = -1;
        int ready = poll(fds, 5, poll_timeout(s));
        if (ready < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
        if (Clock::now() >= s.kill_at) {
            kill(-s.pid, SIGKILL);
            s.kill_at = Clock::time_point::max();
        }
        tick(s);
        if (ready <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[2 + i].revents) relay_pipe(s, i);
        }
        if (fds[4].revents) follow_log(s, false);
        if (fds[1].revents) handle_supervisor(s, reader);
        if (fds[0].revents) handle_signals(s);
    }
}

int finish(Supervision& s, const std::string& error_file) {
    // What the rank left behind ends with it: its group, and whatever left the group
    // (a setsid daemon, a re-parented worker) but carries its mark.
    kill(-s.pid, SIGKILL);
    amlflow::runtime::kill_all_marked_processes(s.mark.c_str());
    waitpid(s.pid, nullptr, 0);
    if (s.log) {
        follow_log(s, true);  // the display's share of what is left, before the exit
        s.log->finish();
    }
    if (s.metrics.enabled()) relay_metrics(s, true);
    bool signaled = s.status.si_code == CLD_KILLED || s.status.si_code == CLD_DUMPED;
    int code = signaled ? -1 : s.status.si_status;
    int sig = signaled ? s.status.si_status : 0;
    if (!s.supervisor_gone) {
        std::string text = amlflow::runtime::read_error_file(error_file);
        if (!text.empty()) write_frame(s.sock, FrameType::error_file, text);
        json exit = {{"code", code}, {"signal", sig}, {"core", s.status.si_code == CLD_DUMPED}};
        write_frame(s.sock, FrameType::exit, exit.dump());
        shutdown(s.sock, SHUT_WR);
        char drain[256];
        while (read(s.sock, drain, sizeof drain) > 0) {}  // until the supervisor has read it all
    }
    return signaled ? 128 + sig : code;
}

}  // namespace

int main(int argc, char** argv) {
    (void)argc;
    (void)argv;
    // When mpirun (our parent) dies, so do we, and with us the rank.
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 1;
    const char* address = std::getenv(amlflow::runtime::kShimAddressVariable);
    const char* secret = std::getenv(amlflow::runtime::kShimSecretVariable);
    if (!address || !secret) die("started without AMLFLOW_SHIM_ADDRESS and AMLFLOW_SHIM_SECRET: amlflow starts this");

    Supervision s;
    s.sock = connect_to(address);
    // A supervisor that reads nothing for 30 s (a stalled or cut-off host) counts as gone:
    // a blocked send gives up then, and the rank is killed rather than left running.
    timeval send_timeout{30, 0};
    setsockopt(s.sock, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json hello = {{"secret", secret},
                  {"rank", env_int("OMPI_COMM_WORLD_RANK", -1)},
                  {"size", env_int("OMPI_COMM_WORLD_SIZE", 0)},
                  {"local_rank", env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0)},
                  {"local_size", env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1)},
                  {"host", host},
                  {"pid", static_cast<long>(getpid())}};
    if (!write_frame(s.sock, FrameType::hello, hello.dump())) die("the supervisor closed the connection");
    FrameReader reader;
    Frame answer = read_frame(s.sock, reader);
    if (answer.type == FrameType::refused) die("the supervisor refused this rank: " + answer.payload);
    json start = json::parse(answer.payload, nullptr, false);
    Program program;
    std::string why;
    if (answer.type != FrameType::start || !amlflow::shim::program_from(start, &program, &why)) {
        die(why.empty() ? "unexpected answer from the supervisor" : why);
    }
    s.mark = program.mark;
    s.metrics = MetricsTail(program.metrics_file);

    // An ignored SIGCHLD (inherited) would have the kernel reap the rank before we see it.
    signal(SIGCHLD, SIG_DFL);
    sigset_t blocked;
    sigemptyset(&blocked);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&blocked, sig);
    sigprocmask(SIG_SETMASK, &blocked, nullptr);  // exactly these: not whatever mpirun blocked
    s.signals = signalfd(-1, &blocked, SFD_CLOEXEC | SFD_NONBLOCK);
    LogFollow log(program.log_file, program.display_rate);
    if (!program.log_file.empty()) {
        std::string error;
        if (!log.open(&error)) die(error);
        s.log = &log;
        s.pid = spawn(program, log.output_fd(), log.output_fd(), blocked);
    } else {
        int out[2], err[2];
        if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) die("cannot create pipes");
        // Room for a burst while a frame is on its way (the default 64 KiB blocks the rank sooner).
        fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
        fcntl(err[0], F_SETPIPE_SZ, 1 << 20);
        s.pid = spawn(program, out[1], err[1], blocked);
        close(out[1]);
        close(err[1]);
        s.pipes[0] = out[0];
        s.pipes[1] = err[0];
    }
    s.heard = Clock::now();
    send(s, FrameType::started, json{{"pid", static_cast<long>(s.pid)}}.dump());
    act_on_frames(s, reader);
    supervise(s, reader);
    return finish(s, program.error_file);
}
