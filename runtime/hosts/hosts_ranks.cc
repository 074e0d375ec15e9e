#include "runtime/hosts/hosts_ranks.h"

#include <algorithm>
#include <filesystem>

#include "runtime/core/artifacts.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool under(const std::string& path, const std::string& folder) {
    if (folder.empty() || path.compare(0, folder.size(), folder) != 0) return false;
    return path.size() == folder.size() || path[folder.size()] == '/' || folder.back() == '/';
}

void collect_paths(const json& value, const AttemptRequest& request, std::vector<std::string>* out) {
    if (value.is_array()) {
        for (const json& item : value) collect_paths(item, request, out);
        return;
    }
    if (!value.is_object()) return;
    if (value.contains("$path") || is_output_reference(value) || value.contains("$format")) {
        std::string error;
        auto text = argument_text(value, {request.results, request.plan_folder}, &error);
        if (!text || text->empty() || (*text)[0] != '/') return;
        if (value.contains("$format")) {
            for (const json& part : value["$format"]) collect_paths(part, request, out);
            return;
        }
        std::error_code ignored;
        if (fs::exists(*text, ignored) && !under(*text, request.workdir)) out->push_back(*text);
        return;
    }
    for (const auto& [key, item] : value.items()) {
        if (!key.empty() && key[0] != '$') collect_paths(item, request, out);
    }
}

std::string relocated(const std::string& text, const RemoteLayout& layout) {
    if (text.empty() || text[0] != '/') return text;
    std::string there = layout.remote_path(text);
    return there.empty() ? text : there;
}

}  // namespace

std::vector<std::string> job_inputs(const AttemptRequest& request) {
    std::vector<std::string> out;
    const json& spec = request.step->spec;
    for (const char* field : {"args", "command", "variables", "inputs"}) {
        if (spec.contains(field)) collect_paths(spec[field], request, &out);
    }
    if (request.environment.contains("variables")) collect_paths(request.environment["variables"], request, &out);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

AttemptRequest request_on_hosts(const AttemptRequest& request, const HostsRankContext& context) {
    AttemptRequest out = request;
    const HostsCompute& compute = *context.compute;
    if (!compute.python.empty()) out.environment["python"] = compute.python;
    out.context.master_addr = context.hosts[0];  // until the hosts' facts say better (rank_plan_for)
    out.context.gpus.clear();  // this machine's GPUs mean nothing on the hosts
    if (const RemoteLayout* layout = context.layout) {
        out.workdir = layout->work;
        out.context.outputs = layout->outputs;
        out.context.logs = layout->logs;
        out.context.metrics_folder = layout->metrics;
        out.context.checkpoints = layout->checkpoints;
        out.context.attempt_logs = layout->logs;
        out.context.python_lib = layout->helper;
    }
    return out;
}

void relocate_inputs(std::vector<ProcessLaunch>& launches, const RemoteLayout& layout) {
    for (ProcessLaunch& launch : launches) {
        for (std::string& word : launch.argv) word = relocated(word, layout);
        for (auto& [name, value] : launch.env) {
            if (name.rfind("AMLFLOW_INPUT_", 0) == 0) value = relocated(value, layout);
        }
    }
}

std::vector<std::optional<std::string>> gpus_by_host(const json& gpus, const std::vector<std::vector<int>>& found,
                                                     bool file_sets_them, const std::vector<std::vector<int>>& slots) {
    std::vector<std::optional<std::string>> out;
    for (const std::vector<int>& host : found) {
        const std::vector<int>* held = out.size() < slots.size() ? &slots[out.size()] : nullptr;
        if (file_sets_them) {
            out.emplace_back();
            continue;
        }
        std::vector<int> granted;
        if (gpus.is_string() && gpus.get<std::string>() == "none") {
            out.emplace_back("");  // the job asked for none: hide them
            continue;
        }
        if (gpus.is_number_integer()) {
            for (size_t i = 0; i < host.size() && static_cast<int64_t>(i) < gpus.get<int64_t>(); ++i) granted.push_back(host[i]);
        } else if (gpus.is_array()) {
            for (const json& index : gpus) {
                if (index.is_number_integer() && index.get<size_t>() < host.size()) granted.push_back(host[index.get<size_t>()]);
            }
        } else {
            granted = host;
        }
        if (host.empty()) {
            out.emplace_back();  // no GPU there: nothing to say
            continue;
        }
        if (held && !held->empty() && *std::max_element(held->begin(), held->end()) < static_cast<int>(granted.size())) {
            std::vector<int> mine;
            for (int slot : *held) mine.push_back(granted[static_cast<size_t>(slot)]);
            granted = mine;
        }
        std::string visible;
        for (int index : granted) visible += (visible.empty() ? "" : ",") + std::to_string(index);
        out.emplace_back(visible);
    }
    return out;
}

std::optional<ShimRankPlan> rank_plan_for(const ShimHello& hello, const std::vector<ProcessLaunch>& launches,
                                          const HostsRankContext& context, const AttemptRequest& local,
                                          const std::string& cwd, std::string* why) {
    if (hello.rank < 0 || hello.rank >= static_cast<int>(launches.size())) {
        *why = "no rank " + std::to_string(hello.rank);
        return std::nullopt;
    }
    size_t index = static_cast<size_t>(hello.rank);
    size_t host_index = index / static_cast<size_t>(context.per_host);
    const std::string& host = context.hosts[host_index];
    if (hello.local_rank != hello.rank % context.per_host) {
        *why = "Open MPI placed rank " + std::to_string(hello.rank) + " as local rank " + std::to_string(hello.local_rank) +
               " on '" + hello.host + "', not as local rank " + std::to_string(hello.rank % context.per_host) + " on '" +
               host + "'";
        return std::nullopt;
    }
    const ProcessLaunch& launch = launches[index];
    ShimRankPlan plan = shim_plan_of(launch, cwd, index < local.rank_logs.size() ? local.rank_logs[index] : "");
    plan.inherit_env = true;
    // Where the ranks meet is a fact of the hosts' check, which may answer after the plan
    // was made: the first host as it answered, on the port free there.
    if (plan.env.count("MASTER_ADDR")) {
        plan.env["MASTER_ADDR"] = !context.addresses.empty() && !context.addresses[0].empty() ? context.addresses[0]
                                                                                              : context.hosts[0];
    }
    if (plan.env.count("MASTER_PORT") && context.master_port > 0) plan.env["MASTER_PORT"] = std::to_string(context.master_port);
    const auto* visible = host_index < context.gpus.size() ? &context.gpus[host_index] : nullptr;
    if (visible && *visible) {
        plan.env["CUDA_VISIBLE_DEVICES"] = **visible;
        plan.env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";  // nvidia-smi's numbering
    } else if (!context.file_sets_gpus) {
        // This machine's GPU facts mean nothing there: the host's environment decides.
        plan.env.erase("CUDA_VISIBLE_DEVICES");
        plan.env.erase("CUDA_DEVICE_ORDER");
    }
    plan.label = launch.label + "@" + host;
    plan.host = host;
    plan.interface = context.compute->interface;  // a CIDR or a NIC name: the shim names the NIC
    // Where the host's files are not this machine's, its shim relays the metrics lines
    // into the file the executor reads here.
    auto metrics = launch.env.find("AMLFLOW_METRICS");
    if (context.layout) plan.remote_log.clear();  // the host's log folder is not ours: every byte comes here
    if (context.layout && metrics != launch.env.end()) {
        plan.remote_metrics = metrics->second;
        plan.metrics_relay = (fs::path(local.context.metrics_folder) / fs::path(metrics->second).filename()).string();
    }
    return plan;
}

}  // namespace amlflow::runtime
