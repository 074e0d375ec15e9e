// `amlflow gpus [--json]`: the GPUs amlflow would hand out on this machine, as discovery
// found them (NVML loaded at run time, limited by the caller's CUDA_VISIBLE_DEVICES, or
// AMLFLOW_GPUS), with the index a compute's `gpus = [...]` names and what a rank's
// CUDA_VISIBLE_DEVICES would say. No GPU is not an error: it says why there is none.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/core/gpu_discovery.h"

namespace amlflow::cli {

using namespace amlflow::runtime;

namespace {

std::string gib(uint64_t bytes) {
    if (bytes == 0) return "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    return text;
}

int show_gpus(bool as_json) {
    GpuInventory inventory = discover_gpus();
    if (as_json) {
        nlohmann::json gpus = nlohmann::json::array();
        for (const Gpu& gpu : inventory.gpus) {
            gpus.push_back({{"index", gpu.index}, {"device", gpu.device}, {"name", gpu.name}, {"uuid", gpu.uuid},
                            {"memory_bytes", gpu.memory_bytes}});
        }
        std::cout << nlohmann::json{{"source", inventory.source}, {"gpus", gpus}}.dump(2) << "\n";
        return 0;
    }
    std::cout << "source: " << inventory.source << "\n";
    if (inventory.gpus.empty()) {
        std::cout << "no GPU: jobs get CPU slots (one per core), and CUDA_VISIBLE_DEVICES is empty\n";
        return 0;
    }
    std::cout << "index  CUDA_VISIBLE_DEVICES  name                              memory     uuid\n";
    for (const Gpu& gpu : inventory.gpus) {
        std::printf("%-6d %-21s %-33s %-10s %s\n", gpu.index, gpu.device.c_str(),
                    gpu.name.empty() ? "-" : gpu.name.c_str(), gib(gpu.memory_bytes).c_str(),
                    gpu.uuid.empty() ? "-" : gpu.uuid.c_str());
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace

Runner add_gpus_command(CLI::App& app) {
    auto* command = app.add_subcommand("gpus", "List the GPUs amlflow would hand out to jobs on this machine");
    auto as_json = std::make_shared<bool>(false);
    command->add_flag("--json", *as_json, "Print the inventory as JSON");
    return [as_json] { return show_gpus(*as_json); };
}

}  // namespace amlflow::cli
