// Which GPUs this machine has. NVML is loaded at run time (dlopen), so amlflow builds and
// runs on machines with no GPU and no driver; `AMLFLOW_GPUS` overrides discovery for
// tests and for pinning ("none", a count such as "2", or indexes such as "0,3").
#pragma once

#include <string>
#include <vector>

namespace amlflow::runtime {

struct Gpu {
    int index = 0;        // its place among the GPUs amlflow may use: what `gpus = [0]` names
    std::string device;   // how a rank's CUDA_VISIBLE_DEVICES names it ("3", "GPU-8f2c...")
    std::string name;     // "NVIDIA H100 80GB HBM3", or "" when not known
    std::string uuid;
    uint64_t memory_bytes = 0;
};

struct GpuInventory {
    std::vector<Gpu> gpus;
    std::string source;  // "nvml", "AMLFLOW_GPUS", "CUDA_VISIBLE_DEVICES" or "none: <why>"

    // The CUDA_VISIBLE_DEVICES names of the GPUs with these indexes.
    std::vector<std::string> devices(const std::vector<int>& indexes) const;
};

// Like torchrun, amlflow hands out only the GPUs it was itself given: a caller's
// CUDA_VISIBLE_DEVICES (indexes, GPU-/MIG- UUIDs, or a prefix of one, read as CUDA reads
// it: up to the first entry that names no GPU) limits the inventory, and `gpus` indexes
// into what is left. Where NVML cannot be loaded, the caller's list is taken as it is.
GpuInventory discover_gpus();

// The inventory a caller's CUDA_VISIBLE_DEVICES text leaves of `found` (NVML's GPUs, or
// none when NVML is missing). Exposed for tests.
GpuInventory limit_to_visible(GpuInventory found, const std::string& visible);

// The GPU indexes a compute's `gpus` field grants out of the inventory: all, none, a
// count (the first N), or explicit indexes (those that exist).
std::vector<int> granted_gpus(const GpuInventory& inventory, const std::string& field_json);

}  // namespace amlflow::runtime
