// Waits, a short while, for the shared ssh connection to each host (ssh's ControlMaster,
// host_list.h's ssh_options) before mpirun starts, so that Open MPI's daemon launch rides it.
//
// The preflight's ssh opens these connections. When they are already up (a run or attempt
// less than a minute ago) mpirun starts at once. When they are not, mpirun started at the
// same moment would reach its own ssh (~0.2 s in) before the preflight's key exchange is
// done, and each host would then make two key exchanges at once on the same cores: measured
// here, 1.28 s for a 2 x 2 /bin/true job against 0.75 s with the connections up. A
// connection is up when its socket is in the control folder (ssh links it there only once
// it listens); its path is what `ssh -G` says, the user's config applied.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/host_list.h"
#include "runtime/hosts/command_run.h"

namespace amlflow::runtime {

class SshMasters {
public:
    using Ready = std::function<void()>;

    SshMasters(EventLoop& loop, HostsCompute compute, std::vector<std::string> hosts);
    // Drops the wait: no callback comes after this.
    ~SshMasters();
    SshMasters(const SshMasters&) = delete;
    SshMasters& operator=(const SshMasters&) = delete;

    // Calls `ready` once, from the loop: when every host's connection is up, or at once
    // when connections are not shared (no control folder) or `ssh -G` cannot say where
    // they live. No deadline: the caller drops this when the preflight ends first, and then
    // starts mpirun itself, or not at all (a host that cannot be reached never gets one).
    void wait(Ready ready);

private:
    void located(std::size_t index, const CommandResult& result);
    void poll();
    void fire();

    EventLoop& loop_;
    HostsCompute compute_;
    std::vector<std::string> hosts_;
    std::vector<std::unique_ptr<CommandRun>> asks_;  // `ssh -G host`, one per host
    std::vector<std::string> sockets_;               // each host's control socket, once known
    std::size_t answered_ = 0;
    Ready ready_;
    EventLoop::TimerId poll_timer_ = 0;
};

}  // namespace amlflow::runtime
