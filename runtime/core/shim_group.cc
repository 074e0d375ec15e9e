#include "runtime/core/shim_group.h"

#include "runtime/core/log_tail.h"
#include "runtime/core/root_cause.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

using nlohmann::json;

struct ShimGroup::Rank {
    ShimRankPlan plan;
    std::unique_ptr<LogRelay> log;
    Connection* connection = nullptr;
    bool exited = false, finished = false, hung = false;
    bool waiting = false;  // proven, waiting for the planner (set_planner)
    ExitStatus status;
    std::string error_file;
    EventLoop::TimerId hang_timer = 0;
    EventLoop::Clock::time_point connected, heard;
    int metrics_fd = -1;  // the relayed metrics file, opened at the first lines
};

struct ShimGroup::Connection {
    int fd = -1;
    int rank = -1;  // -1 until its hello is accepted
    FrameReader reader;
    std::size_t unproven = 0;  // bytes read before the hello was accepted
    EventLoop::TimerId hello_timer = 0;
};

namespace {
// Whoever connects must prove the secret quickly and in few bytes: the port is open to
// every local process (and, for hosts, to the network).
constexpr std::size_t kHelloLimit = 4096;
constexpr auto kHelloDeadline = std::chrono::seconds(10);
}  // namespace

namespace {

// A listening TCP socket on `address`, port chosen by the kernel; -1 with *error.
int listen_on(const std::string& address, int* port, std::string* error) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
        *error = "cannot listen on '" + address + "': not an IPv4 address";
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    socklen_t length = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 512) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
        *error = "cannot listen for the ranks' shims on " + address + ": " + std::strerror(errno);
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

// " on host 'node2'" for a rank elsewhere; nothing for one on this machine.
std::string on_host(const std::string& host) { return host.empty() ? "" : " on host '" + host + "'"; }

// Appends relayed metrics lines to the rank's file on this machine, where the executor reads them.
void append_to(int* fd, const std::string& path, std::string_view lines) {
    if (*fd < 0) *fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (*fd < 0) return;
    for (std::size_t done = 0; done < lines.size();) {
        ssize_t n = write(*fd, lines.data() + done, lines.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

ExitStatus status_from(const json& body) {
    ExitStatus status;
    status.signal = body.value("signal", 0);
    status.signaled = status.signal != 0;
    status.code = status.signaled ? -1 : body.value("code", -1);
    status.core_dumped = body.value("core", false);
    return status;
}

}  // namespace

ShimGroup::ShimGroup(EventLoop& loop, ShimGroupOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {
    for (int i = 0; i < options_.ranks; ++i) ranks_.push_back(std::make_unique<Rank>());
}

ShimGroup::~ShimGroup() {
    loop_.cancel(heartbeat_timer_);
    for (auto& rank : ranks_) {
        if (rank->metrics_fd >= 0) close(rank->metrics_fd);
    }
    loop_.cancel(timeout_timer_);
    loop_.cancel(connect_timer_);
    loop_.cancel(launcher_stop_timer_);
    for (auto& rank : ranks_) loop_.cancel(rank->hang_timer);
    // Closing the connections tells every shim to kill its rank at once.
    for (auto& connection : connections_) {
        loop_.cancel(connection->hello_timer);
        if (connection->fd >= 0) {
            loop_.unwatch(connection->fd);
            close(connection->fd);
        }
    }
    if (listen_fd_ >= 0) {
        loop_.unwatch(listen_fd_);
        close(listen_fd_);
    }
    launcher_.reset();  // SIGKILLs mpirun's group and reaps it
}

void ShimGroup::on_rank_started(std::function<void(const RankStarted&)> callback) {
    on_rank_started_ = std::move(callback);
}
void ShimGroup::on_rank_exit(std::function<void(const RankExit&)> callback) { on_rank_exit_ = std::move(callback); }
void ShimGroup::on_done(std::function<void(const GroupOutcome&)> callback) { on_done_ = std::move(callback); }

bool ShimGroup::start(SpawnSpec launch, RankPlanner planner, std::string* error) {
    start_called_ = true;
    started_ = Clock::now();
    planner_ = std::move(planner);
    secret_ = random_secret();
    std::string why;
    listen_fd_ = listen_on(options_.listen_address, &port_, &why);
    if (listen_fd_ >= 0) {
        loop_.watch(listen_fd_, POLLIN, [this](short) { accept_connections(); });
        launch.env.push_back(std::string(kShimAddressVariable) + "=" + options_.listen_address + ":" + std::to_string(port_));
        launch.env.push_back(std::string(kShimSecretVariable) + "=" + secret_);
        LogRelayOptions log_options;
        log_options.label = options_.launcher_label;
        log_options.colour = options_.ranks;
        log_options.path = options_.launcher_log;
        log_options.tail_lines = options_.tail_lines;
        // Open MPI's rsh launcher warns when its ssh child has already exec'd before the
        // parent's setpgid reaches it: a harmless race, kept in mpirun.log only.
        log_options.file_only = {"plm:rsh: Warning: setpgid("};
        launcher_log_ = std::make_unique<LogRelay>(loop_, std::move(log_options), sink_);
        launcher_ = std::make_unique<Process>(loop_);
        launcher_->on_exit([this](const ExitStatus& status) { launcher_exited(status); });
        if (launcher_log_->open(&why) && launcher_->start(launch, &why)) {
            launcher_log_->attach(Stream::out, launcher_->take_stdout());
            launcher_log_->attach(Stream::err, launcher_->take_stderr());
        } else {
            launcher_.reset();
        }
    }
    if (!launcher_) {
        if (error) *error = why;
        launcher_finished_ = true;
        for (auto& rank : ranks_) rank->finished = true;
        fail(FailureKind::spawn, -1, {}, options_.launcher_label + " could not start: " + why);
        check_done();
        return false;
    }
    // The shims wait 60 s for our answer; we wait as long for them to call.
    connect_timer_ = loop_.after(std::chrono::seconds(60), [this] {
        connect_timer_ = 0;
        for (std::size_t i = 0; i < ranks_.size(); ++i) {
            if (!ranks_[i]->connection && !ranks_[i]->finished) {
                int missing = static_cast<int>(i);
                return fail(FailureKind::spawn, -1, {}, rank_name(missing) + "'s shim did not connect within 60 s");
            }
        }
    });
    heartbeat_timer_ = loop_.after(kHeartbeatInterval, [this] { heartbeat(); });
    if (options_.timeout > Clock::duration::zero()) {
        timeout_timer_ = loop_.after(options_.timeout, [this] {
            timeout_timer_ = 0;
            fail(FailureKind::timeout, -1, {}, "the ranks ran past their timeout of " + seconds(options_.timeout));
        });
    }
    return true;
}

void ShimGroup::accept_connections() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;  // EAGAIN: all taken; anything else: the shim sees its connect fail
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto connection = std::make_unique<Connection>();
        connection->fd = fd;
        Connection* raw = connection.get();
        raw->hello_timer = loop_.after(kHelloDeadline, [this, raw] {
            raw->hello_timer = 0;
            if (raw->rank < 0) close_connection(*raw);
        });
        connections_.push_back(std::move(connection));
        loop_.watch(fd, POLLIN, [this, raw](short) { read_connection(*raw); });
    }
}

void ShimGroup::read_connection(Connection& connection) {
    static thread_local std::vector<char> buffer(256 * 1024);
    for (int round = 0; round < 4 && connection.fd >= 0; ++round) {
        ssize_t n = read(connection.fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) return close_connection(connection);
        if (connection.rank < 0 && (connection.unproven += static_cast<std::size_t>(n)) > kHelloLimit) {
            return close_connection(connection);
        }
        connection.reader.append(buffer.data(), static_cast<std::size_t>(n));
        if (Rank* rank = rank_of(connection)) rank->heard = Clock::now();
        std::string error;
        while (connection.fd >= 0) {
            auto frame = connection.reader.next_view(&error);
            if (!frame) break;
            handle_frame(connection, *frame);
        }
        if (!error.empty()) return close_connection(connection);
        if (static_cast<std::size_t>(n) < buffer.size()) return;
    }
}

ShimGroup::Rank* ShimGroup::rank_of(const Connection& connection) {
    return connection.rank >= 0 ? ranks_[static_cast<std::size_t>(connection.rank)].get() : nullptr;
}

void ShimGroup::handle_frame(Connection& connection, const FrameView& frame) {
    Rank* rank = rank_of(connection);
    if (!rank) {
        if (frame.type == FrameType::hello) return handle_hello(connection, std::string(frame.payload));
        return close_connection(connection);  // nothing but a hello before a hello
    }
    switch (frame.type) {
        case FrameType::out: rank->log->write(Stream::out, frame.payload); break;
        case FrameType::err: rank->log->write(Stream::err, frame.payload); break;
        case FrameType::skipped:
            rank->log->skip(Stream::out, std::strtoull(std::string(frame.payload).c_str(), nullptr, 10));
            break;
        case FrameType::error_file: rank->error_file = std::string(frame.payload); break;
        case FrameType::metrics: append_to(&rank->metrics_fd, rank->plan.metrics_relay, frame.payload); break;
        case FrameType::exit: handle_exit(*rank, std::string(frame.payload)); break;
        case FrameType::started: {
            json body = json::parse(frame.payload, nullptr, false);
            long pid = body.is_object() ? body.value("pid", 0L) : 0L;
            if (on_rank_started_) {
                on_rank_started_({rank->plan.rank, rank->plan.local_rank, rank->plan.node_rank,
                                  static_cast<pid_t>(pid), rank->plan.log_path, rank->plan.host});
            }
            break;
        }
        default: break;
    }
}

void ShimGroup::handle_hello(Connection& connection, const std::string& payload) {
    json body = json::parse(payload, nullptr, false);
    auto refuse = [&](const std::string& why) {
        write_frame(connection.fd, FrameType::refused, why);
        close_connection(connection);
    };
    if (!body.is_object() || !secrets_equal(body.value("secret", ""), secret_)) return refuse("wrong secret");
    ShimHello hello{body.value("rank", -1), body.value("size", 0), body.value("local_rank", 0),
                    body.value("local_size", 1), body.value("host", ""), body.value("pid", 0L)};
    if (hello.rank < 0 || hello.rank >= options_.ranks || hello.size != options_.ranks) {
        return refuse("rank " + std::to_string(hello.rank) + " of " + std::to_string(hello.size) +
                      " does not belong to a job of " + std::to_string(options_.ranks));
    }
    Rank& rank = *ranks_[static_cast<std::size_t>(hello.rank)];
    if (rank.connection || rank.finished || rank.waiting) {
        return refuse("rank " + std::to_string(hello.rank) + " is already here");
    }
    loop_.cancel(connection.hello_timer);  // proven: it may wait for its plan now
    connection.hello_timer = 0;
    if (!planner_) {
        // The ranks' plans are not ready (the hosts are still being checked): it waits.
        rank.waiting = true;
        waiting_.push_back({&connection, hello});
        return;
    }
    admit(connection, hello);
}

void ShimGroup::set_planner(RankPlanner planner) {
    planner_ = std::move(planner);
    std::vector<std::pair<Connection*, ShimHello>> waiting;
    waiting.swap(waiting_);
    for (auto& [connection, hello] : waiting) {
        ranks_[static_cast<std::size_t>(hello.rank)]->waiting = false;
        if (connection->fd >= 0) admit(*connection, hello);
    }
}

void ShimGroup::admit(Connection& connection, const ShimHello& hello) {
    auto refuse = [&](const std::string& why) {
        write_frame(connection.fd, FrameType::refused, why);
        close_connection(connection);
    };
    Rank& rank = *ranks_[static_cast<std::size_t>(hello.rank)];
    std::string error;
    auto plan = stopping_ ? std::nullopt : planner_(hello, &error);
    LogRelayOptions log_options;
    if (plan) {
        // A rank that writes its log itself needs a relay for the display only.
        log_options.label = plan->label;
        log_options.colour = hello.rank;
        log_options.path = plan->remote_log.empty() ? plan->log_path : "";
        log_options.tail_lines = options_.tail_lines;
        rank.log = std::make_unique<LogRelay>(loop_, log_options, sink_);
        if (!rank.log->open(&error)) plan.reset();
    }
    if (!plan || stopping_) {
        refuse(stopping_ ? "the attempt is stopping" : error);
        rank.finished = true;
        if (!stopping_) fail(FailureKind::spawn, hello.rank, {}, rank_name(hello.rank) + " could not start: " + error);
        return check_done();
    }
    rank.plan = std::move(*plan);
    rank.connection = &connection;
    connection.rank = hello.rank;
    json start = {{"argv", rank.plan.argv}, {"env", rank.plan.env}, {"cwd", rank.plan.cwd},
                  {"error_file", rank.plan.error_file}};
    if (!rank.plan.metrics_relay.empty()) start["metrics_file"] = rank.plan.remote_metrics;
    if (!rank.plan.interface.empty()) start["interface"] = rank.plan.interface;
    if (rank.plan.inherit_env) start["inherit_env"] = true;
    if (!rank.plan.remote_log.empty()) {
        start["log_file"] = rank.plan.remote_log;
        // -1: no display at all (then only the skipped counts come, for hang detection).
        start["display_rate"] = sink_ ? static_cast<long long>(display_rate_from_environment()) : -1LL;
    }
    write_frame(connection.fd, FrameType::start, start.dump(-1, ' ', false, json::error_handler_t::replace));
    rank.connected = rank.heard = Clock::now();
    if (options_.hang_timeout > Clock::duration::zero()) {
        int index = hello.rank;
        rank.hang_timer = loop_.at(rank.connected + options_.hang_timeout, [this, index] { check_hang(index); });
    }
}

void ShimGroup::handle_exit(Rank& rank, const std::string& payload) {
    json body = json::parse(payload, nullptr, false);
    if (!body.is_object() || rank.exited) return;
    rank.exited = true;
    rank.status = status_from(body);
    loop_.cancel(rank.hang_timer);
    rank.hang_timer = 0;
    rank.log->end(Stream::out);
    rank.log->end(Stream::err);
    exits_.push_back(RankExit{rank.plan.rank, rank.status, Clock::now()});
    if (on_rank_exit_) on_rank_exit_(exits_.back());
    if (rank.hung) {
        fail(FailureKind::hang, rank.plan.rank, {}, rank_name(rank.plan.rank) + " wrote no output for " + seconds(options_.hang_timeout));
    } else if (!rank.status.success()) {
        std::string who = rank_name(rank.plan.rank) + on_host(rank.plan.host);
        std::string message = rank.status.signaled ? who + " was killed by " + rank.status.describe()
                                                   : who + " exited with code " + std::to_string(rank.status.code);
        fail(rank.status.signaled ? FailureKind::signal : FailureKind::exit_code, rank.plan.rank, rank.status, message);
    }
}

void ShimGroup::close_connection(Connection& connection) {
    if (connection.fd < 0) return;
    loop_.cancel(connection.hello_timer);
    connection.hello_timer = 0;
    loop_.unwatch(connection.fd);
    close(connection.fd);
    connection.fd = -1;
    Rank* rank = rank_of(connection);
    if (!rank || rank->finished) return check_done();
    rank->connection = nullptr;
    rank->finished = true;
    loop_.cancel(rank->hang_timer);
    rank->hang_timer = 0;
    if (!rank->exited) {
        // The shim went away without an exit: its host, or the shim itself, died.
        rank->exited = true;
        rank->status.code = -1;
        exits_.push_back(RankExit{rank->plan.rank, rank->status, Clock::now()});
        if (on_rank_exit_) on_rank_exit_(exits_.back());
        fail(FailureKind::lost, rank->plan.rank, rank->status,
             rank_name(rank->plan.rank) + on_host(rank->plan.host) + ": its shim went away before the rank exited");
    }
    rank->log->finish();
    check_done();
}

void ShimGroup::launcher_exited(const ExitStatus& status) {
    // Exit frames may be waiting in the sockets: read them first, so a rank's failure is
    // not mistaken for the launcher's.
    for (auto& connection : connections_) {
        if (connection->fd >= 0) read_connection(*connection);
    }
    launcher_log_->drain();
    launcher_log_->finish();
    launcher_->reap();
    launcher_finished_ = true;
    loop_.cancel(launcher_stop_timer_);
    launcher_stop_timer_ = 0;
    int missing = -1;
    for (auto& rank : ranks_) {
        if (!rank->connection && !rank->finished) {
            if (missing < 0) missing = static_cast<int>(&rank - &ranks_[0]);
            rank->finished = true;  // never connected, and now never will
        }
    }
    if (missing >= 0) {
        std::string what = status.success() ? "exited" : "ended with " + status.describe();
        fail(FailureKind::spawn, -1, status,
             options_.launcher_label + " " + what + " before " + rank_name(missing) + " started");
    } else if (!status.success() && failure_.kind == FailureKind::none) {
        fail(FailureKind::exit_code, -1, status, options_.launcher_label + " ended with " + status.describe());
    }
    check_done();
}

void ShimGroup::check_hang(int index) {
    Rank& rank = *ranks_[static_cast<std::size_t>(index)];
    rank.hang_timer = 0;
    if (rank.exited || failure_.kind != FailureKind::none) return;
    // A rank's silence counts from when its shim connected, not from mpirun's start.
    Clock::time_point due = rank.log->last_output().value_or(rank.connected) + options_.hang_timeout;
    if (Clock::now() < due) {
        rank.hang_timer = loop_.at(due, [this, index] { check_hang(index); });
        return;
    }
    // As for local ranks: SIGABRT first, so Python's faulthandler prints every stack.
    rank.hung = true;
    if (rank.connection) write_frame(rank.connection->fd, FrameType::signal, json{{"signal", SIGABRT}}.dump());
    rank.hang_timer = loop_.after(std::chrono::seconds(2), [this, index] {
        ranks_[static_cast<std::size_t>(index)]->hang_timer = 0;
        fail(FailureKind::hang, index, {}, rank_name(index) + " wrote no output for " + seconds(options_.hang_timeout));
    });
}

// Every 2 s: a heartbeat to each shim, and a look for one that fell silent. A host cut off
// by the network (or powered off) closes no connection; its ranks are lost, with their
// host's name, within kSupervisorSilence.
void ShimGroup::heartbeat() {
    heartbeat_timer_ = loop_.after(kHeartbeatInterval, [this] { heartbeat(); });
    auto now = Clock::now();
    for (auto& rank : ranks_) {
        if (!rank->connection || rank->finished) continue;
        if (now - rank->heard > kSupervisorSilence) {
            std::string message = rank_name(rank->plan.rank) + on_host(rank->plan.host) + " stopped answering: no word from its shim for " +
                                  seconds(kSupervisorSilence) + " (the host is down or cut off)";
            if (failure_.kind == FailureKind::none) fail(FailureKind::lost, rank->plan.rank, {}, message);
            close_connection(*rank->connection);  // counts as reported; the shim, if alive, ends its rank
            continue;
        }
        write_frame(rank->connection->fd, FrameType::heartbeat, "");
    }
}

void ShimGroup::fail(FailureKind kind, int rank, const ExitStatus& status, std::string message) {
    if (failure_.kind != FailureKind::none) return;  // only the first failure is the cause
    failure_ = Failure{kind, rank, status, std::move(message), Clock::now()};
    loop_.cancel(timeout_timer_);
    timeout_timer_ = 0;
    for (auto& r : ranks_) {
        loop_.cancel(r->hang_timer);
        r->hang_timer = 0;
    }
    stop_ranks(options_.grace);
}

void ShimGroup::stop_all(Clock::duration grace, const std::string& why) {
    if (done_) return;
    if (failure_.kind == FailureKind::none) failure_ = Failure{FailureKind::stopped, -1, {}, why, Clock::now()};
    loop_.cancel(timeout_timer_);
    timeout_timer_ = 0;
    stop_ranks(grace);
}

void ShimGroup::stop_ranks(Clock::duration grace) {
    stopping_ = true;
    // Shims still waiting for their plans are told no; their ranks never start.
    std::vector<std::pair<Connection*, ShimHello>> waiting;
    waiting.swap(waiting_);
    for (auto& [connection, hello] : waiting) {
        Rank& rank = *ranks_[static_cast<std::size_t>(hello.rank)];
        rank.waiting = false;
        rank.finished = true;
        if (connection->fd >= 0) {
            write_frame(connection->fd, FrameType::refused, "the attempt is stopping");
            close_connection(*connection);
        }
    }
    auto grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(grace).count();
    for (auto& rank : ranks_) {
        if (rank->connection && !rank->exited) {
            write_frame(rank->connection->fd, FrameType::stop, json{{"grace_ms", grace_ms}}.dump());
        }
    }
    // The shims stop their ranks within the grace period; mpirun, which then sees them
    // exit, ends by itself. If it does not, it is stopped a second after that.
    if (launcher_ && !launcher_finished_ && !launcher_stop_timer_) {
        launcher_stop_timer_ = loop_.after(grace + std::chrono::seconds(1), [this] {
            launcher_stop_timer_ = 0;
            if (launcher_ && !launcher_finished_) launcher_->stop(std::chrono::seconds(2));
        });
    }
}

void ShimGroup::check_done() {
    if (done_ || !start_called_) return;
    for (const auto& rank : ranks_) {
        if (!rank->finished) return;
    }
    if (!launcher_finished_) {
        // mpirun takes about 2 s to end a job one of whose processes failed; every rank has
        // reported by now, so there is nothing left to wait for (restarts start sooner).
        // SIGKILL, not SIGTERM: mpirun crashes in PMIx_Finalize when terminated mid-abort.
        if (failure_.kind != FailureKind::none && launcher_) launcher_->stop(Clock::duration::zero());
        return;
    }
    done_ = true;
    loop_.cancel(heartbeat_timer_);
    heartbeat_timer_ = 0;
    loop_.cancel(timeout_timer_);
    timeout_timer_ = 0;
    loop_.cancel(connect_timer_);
    connect_timer_ = 0;
    // A rank's last lines: relayed, or read back from the file it wrote itself (on a folder
    // this machine shares).
    // Each read once: a rank's own file is read from disk.
    std::vector<std::optional<std::vector<std::string>>> tails(ranks_.size());
    auto tail_of = [this, &tails](int r) -> const std::vector<std::string>& {
        auto& kept = tails[static_cast<std::size_t>(r)];
        if (kept) return *kept;
        const Rank& rank = *ranks_[static_cast<std::size_t>(r)];
        if (!rank.plan.remote_log.empty()) {
            LogRelayOptions file;
            file.label = rank.plan.label;
            file.path = rank.plan.log_path;
            file.tail_lines = options_.tail_lines;
            kept = last_lines(loop_, file);
        } else {
            kept = rank.log ? rank.log->tail() : std::vector<std::string>{};
        }
        return *kept;
    };
    reconsider_root_cause(failure_, static_cast<int>(ranks_.size()), tail_of);  // root_cause.h
    outcome_.succeeded = failure_.kind == FailureKind::none;
    outcome_.failure = failure_;
    if (failure_.rank >= 0 && ranks_[static_cast<std::size_t>(failure_.rank)]->log) {
        const Rank& root = *ranks_[static_cast<std::size_t>(failure_.rank)];
        outcome_.tail = tail_of(failure_.rank);
        outcome_.error_file = root.error_file;
    } else if (!outcome_.succeeded && launcher_log_) {
        outcome_.tail = launcher_log_->tail();
    }
    outcome_.exits = exits_;
    if (on_done_) on_done_(outcome_);
}

}  // namespace amlflow::runtime
