// The ranks of one attempt that another launcher starts (mpirun, on this machine or across
// hosts), supervised through amlflow's per-rank shim (DESIGN §4).
//
// The group listens on a TCP port, then spawns the launcher with the port and a fresh
// per-attempt secret in its environment; the launcher starts one `amlflow-rank` shim per
// rank. Each shim connects back, proves the secret and says which rank Open MPI made it;
// the group asks the backend (RankPlanner) for that rank's program, environment and folder
// and sends them. From then on the shim streams the rank's output, which goes through a
// LogRelay per rank exactly as a local rank's pipes do (a live log per rank, whole lines,
// the terminal prefix), and finally the rank's error file and exit.
//
// Failure semantics are RankGroup's: the first failing rank is the root cause (named by its
// MPI rank), then every rank is stopped (a stop frame: SIGTERM to the rank's group, SIGKILL
// after the grace period) and the launcher after it. A launcher that exits before its ranks
// reported, a shim whose connection drops, timeouts and hangs are failures too. Both sides
// send heartbeats: a shim silent for 20 s is lost with its host (a host cut off by the
// network closes no connection), and a shim that hears nothing for 30 s kills its rank. The launcher's
// own output (mpirun's messages) goes to a log of its own, shown with its own label.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/group_outcome.h"
#include "runtime/core/log_relay.h"
#include "runtime/core/process.h"
#include "runtime/core/shim_protocol.h"

namespace amlflow::runtime {

// What a shim says of itself: Open MPI's numbering of its rank, and where it runs.
struct ShimHello {
    int rank = -1, size = 0, local_rank = 0, local_size = 1;
    std::string host;
    long pid = 0;
};

// What the backend answers for one rank.
struct ShimRankPlan {
    int rank = 0, local_rank = 0, node_rank = 0;  // the rank's identity as the job sees it
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;
    std::string cwd;
    std::string log_path;     // the rank's live log, on this machine
    // The same file as the rank's host sees it, where the rank writes it itself (its stdout
    // and stderr; core/log_tail.h): the shim then sends only what the display takes. Empty:
    // the shim sends every byte and this machine writes log_path (the host sees no folder
    // of ours, or AMLFLOW_LOG_LINES=1).
    std::string remote_log;
    std::string label;        // the terminal prefix, e.g. "train 1"
    std::string error_file;   // TORCHELASTIC_ERROR_FILE where the rank runs
    std::string host;         // where it runs, for messages ("node2"); empty: this machine
    // Where the rank's metrics lines land when its shim relays them (its host's files are
    // not this machine's), and the file the shim reads them from there; empty: not relayed.
    std::string metrics_relay, remote_metrics;
    std::string interface;    // the job's network, a CIDR or a NIC name: the shim names the NIC for gloo/NCCL
    // The rank starts from its shim's own environment (its host's), `env` on top; false:
    // `env` is the whole environment (a rank on this machine).
    bool inherit_env = false;
};
using RankPlanner = std::function<std::optional<ShimRankPlan>(const ShimHello&, std::string* error)>;

struct ShimGroupOptions {
    using Duration = EventLoop::Clock::duration;
    int ranks = 1;                                 // how many shims will connect
    std::string listen_address = "127.0.0.1";     // where the shims can reach us
    std::string launcher;                          // amlflow-launch, for mpirun itself
    std::string launcher_log;                      // mpirun's own output; empty: none
    std::string launcher_label = "mpirun";
    Duration timeout = Duration::zero();           // the whole attempt; zero: none
    Duration hang_timeout = Duration::zero();      // per rank, without output; zero: none
    Duration grace = std::chrono::seconds(5);
    std::size_t tail_lines = 50;
};

class ShimGroup : public SupervisedGroup {
public:
    ShimGroup(EventLoop& loop, ShimGroupOptions options, LineSink* sink = nullptr);
    ~ShimGroup() override;  // kills the launcher's group; the shims then kill their ranks
    ShimGroup(const ShimGroup&) = delete;
    ShimGroup& operator=(const ShimGroup&) = delete;

    void on_rank_started(std::function<void(const RankStarted&)> callback) override;
    void on_rank_exit(std::function<void(const RankExit&)> callback) override;
    void on_done(std::function<void(const GroupOutcome&)> callback) override;
    void stop_all(Clock::duration grace, const std::string& why = "stopped") override;

    // Listens, then spawns `launch` (its env gets the address and secret added). False
    // with *error when either fails; the loop must still run until done(). Once. An empty
    // `planner`: shims that prove the secret wait, until set_planner() (so mpirun and its
    // ssh connections start while the hosts are still being checked).
    bool start(SpawnSpec launch, RankPlanner planner, std::string* error);
    void set_planner(RankPlanner planner);

    bool done() const { return done_; }
    const GroupOutcome& outcome() const { return outcome_; }
    int port() const { return port_; }

private:
    struct Rank;
    struct Connection;

    void accept_connections();
    void read_connection(Connection& connection);
    void handle_frame(Connection& connection, const FrameView& frame);
    void handle_hello(Connection& connection, const std::string& payload);
    void admit(Connection& connection, const ShimHello& hello);
    void handle_exit(Rank& rank, const std::string& payload);
    void close_connection(Connection& connection);
    void launcher_exited(const ExitStatus& status);
    void check_hang(int rank);
    void heartbeat();
    void fail(FailureKind kind, int rank, const ExitStatus& status, std::string message);
    void stop_ranks(Clock::duration grace);
    void check_done();
    Rank* rank_of(const Connection& connection);

    EventLoop& loop_;
    ShimGroupOptions options_;
    LineSink* sink_;
    RankPlanner planner_;
    std::string secret_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::unique_ptr<Process> launcher_;
    std::unique_ptr<LogRelay> launcher_log_;
    bool launcher_finished_ = false;
    std::vector<std::unique_ptr<Rank>> ranks_;
    std::vector<std::unique_ptr<Connection>> connections_;
    std::vector<std::pair<Connection*, ShimHello>> waiting_;  // proven shims, before set_planner
    std::function<void(const RankStarted&)> on_rank_started_;
    std::function<void(const RankExit&)> on_rank_exit_;
    std::function<void(const GroupOutcome&)> on_done_;
    Clock::time_point started_;
    EventLoop::TimerId timeout_timer_ = 0, launcher_stop_timer_ = 0, connect_timer_ = 0, heartbeat_timer_ = 0;
    bool start_called_ = false, stopping_ = false, done_ = false;
    Failure failure_;
    std::vector<RankExit> exits_;
    GroupOutcome outcome_;
};

}  // namespace amlflow::runtime
