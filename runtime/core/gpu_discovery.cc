#include "runtime/core/gpu_discovery.h"

#include <dlfcn.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

namespace {

// The few NVML entry points used, with their C signatures (nvml.h is not needed).
using NvmlInit = int (*)();
using NvmlShutdown = int (*)();
using NvmlCount = int (*)(unsigned int*);
using NvmlHandle = int (*)(unsigned int, void**);
using NvmlName = int (*)(void*, char*, unsigned int);
using NvmlMemory = int (*)(void*, void*);

struct NvmlMemoryInfo {
    unsigned long long total, free, used;
};

std::vector<int> parse_indexes(const std::string& text) {
    std::vector<int> out;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return {};
        out.push_back(std::atoi(part.c_str()));
    }
    return out;
}

GpuInventory from_nvml() {
    GpuInventory inventory;
    void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        inventory.source = "none: no NVIDIA driver (libnvidia-ml.so.1 not found)";
        return inventory;
    }
    auto init = reinterpret_cast<NvmlInit>(dlsym(library, "nvmlInit_v2"));
    auto shutdown = reinterpret_cast<NvmlShutdown>(dlsym(library, "nvmlShutdown"));
    auto count = reinterpret_cast<NvmlCount>(dlsym(library, "nvmlDeviceGetCount_v2"));
    auto handle = reinterpret_cast<NvmlHandle>(dlsym(library, "nvmlDeviceGetHandleByIndex_v2"));
    auto name = reinterpret_cast<NvmlName>(dlsym(library, "nvmlDeviceGetName"));
    auto uuid = reinterpret_cast<NvmlName>(dlsym(library, "nvmlDeviceGetUUID"));
    auto memory = reinterpret_cast<NvmlMemory>(dlsym(library, "nvmlDeviceGetMemoryInfo"));
    unsigned int devices = 0;
    if (!init || !count || !handle || init() != 0) {
        inventory.source = "none: NVML did not initialise";
        dlclose(library);
        return inventory;
    }
    if (count(&devices) == 0) {
        for (unsigned int i = 0; i < devices; ++i) {
            Gpu gpu;
            gpu.index = static_cast<int>(i);
            gpu.device = std::to_string(i);
            void* device = nullptr;
            if (handle(i, &device) == 0) {
                char text[96] = {0};
                if (name && name(device, text, sizeof text) == 0) gpu.name = text;
                char id[96] = {0};
                if (uuid && uuid(device, id, sizeof id) == 0) gpu.uuid = id;
                NvmlMemoryInfo info{};
                if (memory && memory(device, &info) == 0) gpu.memory_bytes = info.total;
            }
            inventory.gpus.push_back(gpu);
        }
    }
    if (shutdown) shutdown();
    dlclose(library);
    inventory.source = "nvml";
    return inventory;
}

}  // namespace

std::vector<std::string> GpuInventory::devices(const std::vector<int>& indexes) const {
    std::vector<std::string> out;
    for (int index : indexes) {
        for (const Gpu& gpu : gpus) {
            if (gpu.index == index) out.push_back(gpu.device.empty() ? std::to_string(gpu.index) : gpu.device);
        }
    }
    return out;
}

GpuInventory limit_to_visible(GpuInventory found, const std::string& visible) {
    GpuInventory out;
    out.source = "CUDA_VISIBLE_DEVICES";
    std::stringstream in(visible);
    std::string entry;
    while (std::getline(in, entry, ',')) {
        while (!entry.empty() && entry.back() == ' ') entry.pop_back();
        while (!entry.empty() && entry.front() == ' ') entry.erase(0, 1);
        const Gpu* match = nullptr;
        bool number = !entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos;
        for (const Gpu& gpu : found.gpus) {
            if (number ? std::to_string(gpu.index) == entry : !gpu.uuid.empty() && gpu.uuid.rfind(entry, 0) == 0) {
                match = &gpu;
            }
        }
        bool uuid = entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0;
        // CUDA stops at the first entry that names no GPU. A UUID NVML does not list (a MIG
        // instance: NVML lists its parent GPU) is handed on as written; CUDA decides.
        if (!match && !uuid && (!found.gpus.empty() || !number)) break;
        Gpu gpu = match ? *match : Gpu{};
        gpu.index = static_cast<int>(out.gpus.size());
        gpu.device = entry;  // handed on as the caller wrote it
        out.gpus.push_back(gpu);
    }
    return out;
}

GpuInventory discover_gpus() {
    if (const char* pinned = std::getenv("AMLFLOW_GPUS")) {
        GpuInventory inventory;
        inventory.source = "AMLFLOW_GPUS";
        std::string text = pinned;
        if (text == "none" || text.empty()) return inventory;
        std::vector<int> indexes = text.find(',') == std::string::npos && text.size() < 4
                                       ? std::vector<int>{}
                                       : parse_indexes(text);
        if (indexes.empty()) {
            for (int i = 0; i < std::atoi(text.c_str()); ++i) indexes.push_back(i);
        }
        for (int i : indexes) inventory.gpus.push_back({i, std::to_string(i), "", "", 0});
        return inventory;
    }
    GpuInventory inventory = from_nvml();
    if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) return limit_to_visible(inventory, visible);
    return inventory;
}

std::vector<int> granted_gpus(const GpuInventory& inventory, const std::string& field_json) {
    std::vector<int> all;
    for (const Gpu& gpu : inventory.gpus) all.push_back(gpu.index);
    nlohmann::json field = nlohmann::json::parse(field_json, nullptr, false);
    if (field.is_discarded() || field.is_null() || field == "all") return all;
    if (field == "none") return {};
    if (field.is_number_integer()) {
        size_t n = std::min<size_t>(all.size(), field.get<size_t>());
        return std::vector<int>(all.begin(), all.begin() + static_cast<long>(n));
    }
    std::vector<int> chosen;
    if (field.is_array()) {
        for (const auto& item : field) {
            if (!item.is_number_integer()) continue;
            int index = item.get<int>();
            if (std::find(all.begin(), all.end(), index) != all.end()) chosen.push_back(index);
        }
    }
    return chosen;
}

}  // namespace amlflow::runtime
