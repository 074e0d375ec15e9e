#include "cli/dry_run.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "runtime/core/artifacts.h"
#include "runtime/exec/sweep_plan.h"
#include "runtime/core/job_launch.h"
#include "runtime/core/host_list.h"
#include "runtime/hosts/hosts_launch.h"
#include "runtime/hosts/local_address.h"

namespace amlflow::cli {

using namespace amlflow::runtime;
using nlohmann::json;

namespace {

std::string shown(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Every step result the spec reads, as a placeholder naming it ("<tune.best.outputs>"),
// so a job that reads another step's results shows where they go.
void add_placeholders(const json& value, StepResults& results) {
    if (is_output_reference(value)) {
        const json& output = value["$output"];
        std::string step = output.value("step", "");
        std::string key;
        for (const json& part : output.value("result", json::array())) {
            if (part.is_string()) key += (key.empty() ? "" : ".") + part.get<std::string>();
        }
        results[step][key] = "<" + step + "." + key + ">";
        return;
    }
    if (value.is_object() || value.is_array()) {
        for (const json& item : value) add_placeholders(item, results);
    }
}

// The processes of one job (a trial is one), with the variables amlflow sets that differ
// from amlflow's own environment. `variables`: false prints the argv lines only.
void show_processes(const RunPlan& plan, const StepPlan& step, const std::map<std::string, std::string>& base,
                    const std::string& indent, bool variables) {
    AttemptRequest request;
    request.step = &step;
    request.plan_folder = "<folder of the file>";
    request.environment = plan.environment_of(step);
    request.compute = plan.compute_of(step);
    int restarts = RetryPolicy::from_spec(step.spec).max_restarts();
    request.context = {"<run>", step.name, 0, restarts, "127.0.0.1", 29500, "<outputs>", "<checkpoints>", "<logs>",
                       "<metrics>", {}, "<amlflow python lib>", "<attempt logs>"};
    add_placeholders(step.spec, request.results);
    std::string error;
    bool on_hosts = request.compute.value("$kind", "") == "hosts";
    std::optional<HostsCompute> hosts;
    if (on_hosts) {
        hosts = hosts_compute_from(request.compute, &error);
        if (!hosts) {
            std::cout << indent << "cannot run there: " << error << "\n";
            return;
        }
        if (!hosts->python.empty()) request.environment["python"] = hosts->python;
        request.context.master_addr = hosts->hosts[0].name;
    }
    // On hosts a rank starts from its host's own environment: all it gets is shown.
    std::map<std::string, std::string> none;
    auto launches = plan_processes(request, on_hosts ? none : base, &error);
    if (!launches) {
        std::cout << indent << "cannot run here: " << error << "\n";
        return;
    }
    std::cout << indent << "would start " << launches->size() << " process" << (launches->size() == 1 ? "" : "es")
              << "\n";
    // An mpi job's ranks are started by one mpirun, each through the rank shim, which then
    // runs the rank's line below (docs/runtime.md, "Ranks that mpirun starts").
    Distribution shape = distribution_of(step.spec);
    int per_host = shape.launched_per_node();
    if (on_hosts) {
        HostsLaunchShape placed{shape.nodes, per_host, "amlflow-rank",
                                step.name, network_of(*hosts)};
        std::cout << indent << "through";
        for (const std::string& arg : hosts_mpirun_argv(*hosts, placed)) std::cout << " " << shown(json(arg));
        std::cout << "\n";
    } else if (shape.kind == "mpi") {
        std::cout << indent << "through";
        for (const std::string& arg : mpirun_argv(static_cast<int>(launches->size()), "amlflow-rank", step.name)) {
            std::cout << " " << shown(json(arg));
        }
        std::cout << "\n";
    }
    for (size_t i = 0; i < launches->size(); ++i) {
        ProcessLaunch& launch = (*launches)[i];
        std::string where = on_hosts ? "@" + hosts->hosts[i / static_cast<size_t>(per_host)].name : "";
        std::cout << indent << "[" << launch.label << where << "]";
        auto visible = launch.env.find("CUDA_VISIBLE_DEVICES");
        if (on_hosts && visible != launch.env.end() && visible->second.empty()) {
            // The hosts' GPUs are found there when the run starts (docs/running-on-hosts.md).
            launch.env.erase(visible);
            launch.env.erase("CUDA_DEVICE_ORDER");
        }
        for (const std::string& arg : launch.argv) std::cout << " " << shown(json(arg));
        std::cout << "\n";
        if (!variables) continue;
        std::cout << indent << " ";
        for (const auto& [key, value] : launch.env) {
            auto inherited = base.find(key);
            if (inherited == base.end() || inherited->second != value) std::cout << " " << key << "=" << value;
        }
        std::cout << "\n";
    }
}

// A sweep's trials, drawn as the run would draw them (the same seed), each with its
// parameter values and its processes; the variables are shown for the first trial only
// (the others differ in AMLFLOW_STEP and the values).
void show_sweep(const RunPlan& plan, const StepPlan& sweep, const std::map<std::string, std::string>& base) {
    std::string error;
    auto trials = draw_trials(sweep, &error);
    if (!trials) {
        std::cout << "  cannot draw its trials: " << error << "\n";
        return;
    }
    int parallel = std::max(1, sweep.spec.value("parallel", 1));
    std::cout << "  would start " << trials->size() << " trial" << (trials->size() == 1 ? "" : "s") << ", at most "
              << parallel << " at once\n";
    int count = sweep.spec.value("trials", 10);
    if (sweep.spec.value("sampling", "") == "bayesian" && count > static_cast<int>(trials->size())) {
        // The others are drawn from these trials' results (tpe_sampler.h): unknown yet.
        std::cout << "  then " << count - static_cast<int>(trials->size())
                  << " more, drawn by bayesian sampling (TPE) from the results of those before them\n";
    }
    for (const Trial& trial : *trials) {
        std::cout << "  trial " << trial.index << " (" << trial.name << "):";
        for (auto it = trial.params.begin(); it != trial.params.end(); ++it) {
            std::cout << " " << it.key() << "=" << shown(it.value());
        }
        std::cout << "\n";
        show_processes(plan, trial_step(sweep, trial), base, "    ", trial.index == 0);
    }
}

}  // namespace

int dry_run(const RunPlan& plan, const std::map<std::string, std::string>& base, const DryRunOptions& options) {
    std::cout << "dry run: nothing is started or recorded\n";
    for (const StepPlan& step : plan.steps) {
        if (!options.only.empty() && !options.only.count(step.name)) continue;
        std::cout << step.name << " (" << step.kind << ")\n";
        if (options.kept.count(step.name)) {
            std::cout << "  kept: the run completed it\n";
        } else if (step.kind == "job") {
            show_processes(plan, step, base, "  ", true);
        } else if (step.kind == "sweep") {
            show_sweep(plan, step, base);
        } else if (step.kind == "export") {
            std::cout << "  would start 1 process: the ONNX exporter, in the step's environment\n";
        } else {
            std::cout << "  would " << (step.kind == "register" ? "register a model version" : "copy files")
                      << " inside amlflow: no process\n";
        }
    }
    return 0;
}

}  // namespace amlflow::cli
