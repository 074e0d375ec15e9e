#include "runtime/shim/rank_program.h"

#include <unistd.h>

#include <map>

#include "runtime/core/local_network.h"
#include "runtime/core/shim_protocol.h"

extern char** environ;

namespace amlflow::shim {

using nlohmann::json;

bool program_from(const json& start, Program* program, std::string* error) {
    if (!start.is_object() || !start.contains("argv") || !start.contains("env")) {
        *error = "the supervisor's start frame lacks argv or env";
        return false;
    }
    program->argv = start.at("argv").get<std::vector<std::string>>();
    auto env = start.at("env").get<std::map<std::string, std::string>>();
    // Open MPI's own variables come from ours, not from whatever the plan carried: an MPI
    // program (mpi4py, Horovod) joins the job through them. On a host, the rest of ours (the
    // host's own PATH, HOME, ...) is the base the plan's variables go on top of.
    bool inherit = start.value("inherit_env", false);
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string text = *entry;
        size_t equals = text.find('=');
        if (equals == std::string::npos) continue;
        std::string name = text.substr(0, equals);
        if (name.rfind("OMPI_", 0) == 0 || name.rfind("PMIX_", 0) == 0 || name.rfind("OPAL_", 0) == 0) {
            env[name] = text.substr(equals + 1);
        } else if (inherit && name.rfind("AMLFLOW_SHIM_", 0) != 0) {
            env.emplace(name, text.substr(equals + 1));
        }
    }
    // The job's network: a NIC name, or a CIDR that is a NIC of its own name on each host.
    // A value the job set itself stays.
    std::string interface = start.value("interface", "");
    if (!interface.empty()) {
        std::string nic = interface;
        if (interface.find('/') != std::string::npos) {
            auto found = runtime::local_nic_in(interface);
            nic = found ? found->name : "";
        }
        if (nic.empty()) {
            *error = "this host has no address in the job's network " + interface;
            return false;
        }
        for (const char* name : {"GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME"}) env.emplace(name, nic);
    }
    std::string token = std::to_string(getpid()) + "-" + runtime::random_secret().substr(0, 16);
    program->mark = "AMLFLOW_RANK_MARK=" + token;
    env["AMLFLOW_RANK_MARK"] = token;
    for (const auto& [name, value] : env) program->env.push_back(name + "=" + value);
    program->cwd = start.value("cwd", "");
    program->error_file = start.value("error_file", "");
    program->metrics_file = start.value("metrics_file", "");
    program->log_file = start.value("log_file", "");
    program->display_rate = start.value("display_rate", 0LL);
    if (program->argv.empty()) {
        *error = "the supervisor sent no program";
        return false;
    }
    return true;
}

}  // namespace amlflow::shim
