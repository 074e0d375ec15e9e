#include "runtime/hosts/hosts_launch.h"

#include <unistd.h>

#include "runtime/core/shim_protocol.h"

namespace amlflow::runtime {

std::vector<std::string> hosts_mpirun_argv(const HostsCompute& compute, const HostsLaunchShape& shape) {
    std::string hosts;
    for (int i = 0; i < shape.nodes && i < static_cast<int>(compute.hosts.size()); ++i) {
        if (!hosts.empty()) hosts += ',';
        hosts += compute.hosts[static_cast<size_t>(i)].name + ":" + std::to_string(shape.processes_per_node);
    }
    int world = shape.nodes * shape.processes_per_node;
    std::vector<std::string> argv = {"mpirun", "--host", hosts, "-np", std::to_string(world), "--map-by",
                                     "ppr:" + std::to_string(shape.processes_per_node) + ":node", "--bind-to", "none"};
    if (geteuid() == 0) argv.push_back("--allow-run-as-root");
    // ssh as the user set it up (config, port, key, login), never prompting, with a
    // keep-alive: Open MPI alone takes minutes to notice a dead host.
    argv.insert(argv.end(), {"--mca", "plm_rsh_agent", "ssh", "--mca", "plm_rsh_args", shell_join(ssh_options(compute))});
    // The daemons start from this machine, not a tree of hosts: a host need not reach another by ssh.
    argv.insert(argv.end(), {"--mca", "plm_rsh_no_tree_spawn", "1"});
    if (!shape.subnet.empty()) {
        // A subnet, not a NIC name: the names differ between this machine and the hosts,
        // and a name mpirun's own machine lacks is fatal.
        argv.insert(argv.end(), {"--mca", "oob_tcp_if_include", shape.subnet, "--mca", "btl_tcp_if_include", shape.subnet});
    }
    // When mpirun goes away (killed with amlflow, or after every rank reported), each daemon
    // SIGTERMs its shims and SIGKILLs them 1 s later, which kills their ranks (parent-death
    // signal). A graceful stop goes through the shims' connections, never this way, so 1 s
    // is all a daemon needs: measured, a daemon then ends within 2 s of mpirun.
    argv.insert(argv.end(), {"--mca", "odls_base_sigkill_timeout", "1"});
    argv.insert(argv.end(), {"-x", kShimAddressVariable, "-x", kShimSecretVariable});
    argv.push_back(shape.shim);
    argv.push_back(shape.step);
    return argv;
}

}  // namespace amlflow::runtime
