// What the shim runs: the program, environment and folder the supervisor sent in its start
// frame, completed with what only the rank's own host knows — Open MPI's variables (an MPI
// program joins the job through them), the NIC on the job's network for gloo and NCCL, and
// the rank's mark, by which every process it leaves behind is found and killed.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::shim {

struct Program {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // NAME=value
    std::string cwd, error_file;
    std::string metrics_file;      // on this host, relayed to the supervisor; empty: none
    std::string log_file;          // the rank writes it itself (log_follow.h); empty: pipes
    long long display_rate = 0;    // bytes a second of log_file sent for the display
    std::string mark;              // "AMLFLOW_RANK_MARK=<token>", in env too
};

// nullopt with *error when the start frame is not usable.
bool program_from(const nlohmann::json& start, Program* program, std::string* error);

}  // namespace amlflow::shim
