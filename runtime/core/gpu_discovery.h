// Which GPUs this machine has. NVML is loaded at run time (dlopen), so amlflow builds and
// runs on machines with no GPU and no driver; `AMLFLOW_GPUS` overrides discovery for
// tests and for pinning ("none", a count such as "2", or indexes such as "0,3").
#pragma once

#include <string>
#include <vector>

namespace amlflow::runtime {

struct Gpu {
    int index = 0;        // as CUDA numbers it on this machine
    std::string name;     // "NVIDIA H100 80GB HBM3", or "" when not known
    std::string uuid;
    uint64_t memory_bytes = 0;
};

struct GpuInventory {
    std::vector<Gpu> gpus;
    std::string source;  // "nvml", "AMLFLOW_GPUS", "CUDA_VISIBLE_DEVICES" or "none: <why>"
};

GpuInventory discover_gpus();

// The GPU indexes a compute's `gpus` field grants out of the inventory: all, none, a
// count (the first N), or explicit indexes (those that exist).
std::vector<int> granted_gpus(const GpuInventory& inventory, const std::string& field_json);

}  // namespace amlflow::runtime
