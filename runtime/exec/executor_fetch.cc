// Files a step reads that this machine lacks but the place that made them keeps: the outputs
// of a job that ran on Azure ML (or of a sweep's best trial there), and a model registered
// from them, whose local copies were garbage-collected or never came here. Before a step is
// looked up in the cache (whose key holds the content of what it reads) each missing file or
// folder is fetched back from the place (Backend::fetch_files) into the path the step reads,
// so `download`, `export onnx` and `register model` go on as if the copy had been kept.
#include "runtime/exec/cache_lookup.h"
#include "runtime/exec/executor.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string result_key(const json& reference) {
    std::string key;
    for (const json& part : reference["$output"].value("result", json::array())) {
        if (part.is_string()) key += (key.empty() ? "" : ".") + part.get<std::string>();
    }
    return key;
}

std::string value_of(const std::map<std::string, std::string>& results, const std::string& key) {
    auto found = results.find(key);
    return found == results.end() ? "" : found->second;
}

}  // namespace

// Where the place keeps the files of `reference`: a remote job's outputs ("job" in its
// producer's results), a remote best trial's ("best.job"), or a model registered from one
// (a register step's "job" and "job.path").
std::optional<FilesFetch> Executor::remote_files(const json& reference, const ResolvedOutput& resolved) const {
    if (!is_output_reference(reference)) return std::nullopt;
    auto producer = results_.find(reference["$output"].value("step", ""));
    if (producer == results_.end()) return std::nullopt;
    const auto& results = producer->second;
    std::string key = result_key(reference), job, base;
    if (key == "outputs") {
        job = value_of(results, "job");
        base = "outputs";
    } else if (key == "best.outputs") {
        job = value_of(results, "best.job");
        base = "outputs";
    } else if (key == "path") {
        job = value_of(results, "job");
        base = value_of(results, "job.path");
    }
    if (job.empty() || base.empty()) return std::nullopt;
    FilesFetch fetch;
    fetch.job = job;
    // A result gone whole comes back whole, as the job left it; a part missing from one
    // still here comes back alone.
    std::error_code ec;
    std::string below = resolved.path.lexically_relative(resolved.root).generic_string();
    bool part = fs::exists(resolved.root, ec) && !below.empty() && below != ".";
    fetch.path = part ? base + "/" + below : base;
    fetch.to = (part ? resolved.path : resolved.root).string();
    const StepPlan* step = plan_.find(resolved.step);
    fetch.compute = step ? plan_.compute_of(*step) : json::object();
    fetch.plan_folder = fs::absolute(options_.plan_folder, ec).lexically_normal().string();
    return fetch;
}

// True while the step waits for its inputs' files; starts their fetch the first time. A step
// a resumed run keeps reads nothing again, and a fetch that fails fails the step.
bool Executor::fetch_missing_inputs(StepRun& step) {
    if (step.fetching > 0) return true;
    if (step.fetched) return false;
    step.fetched = true;
    const std::string name = step.plan->name;
    if (options_.resume && !options_.rerun_steps.count(name)) {
        auto before = previous_.find(name);
        if (before != previous_.end() &&
            (before->second.state == StepState::Succeeded || before->second.state == StepState::Cached)) {
            return false;
        }
    }
    std::vector<const json*> references;
    collect_outputs(step.plan->spec, references);
    std::map<std::string, FilesFetch> wanted;  // by local path: each fetched once
    std::error_code ec;
    for (const json* reference : references) {
        std::string ignored;
        auto resolved = is_path_result(*reference) ? resolve_output(*reference, results_, &ignored) : std::nullopt;
        if (!resolved || fs::exists(resolved->path, ec)) continue;
        if (auto fetch = remote_files(*reference, *resolved)) wanted.emplace(fetch->to, *fetch);
    }
    // A folder fetched brings what is below it.
    for (auto it = wanted.begin(); it != wanted.end();) {
        auto next = std::next(it);
        while (next != wanted.end() && next->first.rfind(it->first + "/", 0) == 0) next = wanted.erase(next);
        it = next;
    }
    if (wanted.empty()) return false;
    step.fetching = static_cast<int>(wanted.size());
    for (const auto& [to, fetch] : wanted) {
        // Steps that want the same files wait for one fetch.
        auto [waiters, first] = fetch_waiters_.try_emplace(to);
        waiters->second.push_back(name);
        if (!first) continue;
        reporter_.note("step '" + name + "': fetching '" + fetch.path + "' of job '" + fetch.job +
                       "' from its workspace (no copy here at " + to + ")");
        fs::create_directories(fs::path(to).parent_path(), ec);
        backend_.fetch_files(fetch, [this, to = to](std::string error) { fetched(to, error); });
    }
    return step.fetching > 0 || step.state != StepState::Pending;
}

// A fetch ended: each step waiting for it goes on, or fails with its error.
void Executor::fetched(const std::string& to, const std::string& error) {
    auto found = fetch_waiters_.find(to);
    if (found == fetch_waiters_.end()) return;
    std::vector<std::string> waiting = std::move(found->second);
    fetch_waiters_.erase(found);
    bool ready = false;
    for (const std::string& name : waiting) {
        StepRun* step = find(name);
        if (!step || step->state != StepState::Pending || step->fetching == 0) continue;
        if (!error.empty()) {
            step->fetching = 0;
            step->looked_up = true;
            fail_step(*step, error);
            continue;
        }
        ready |= --step->fetching == 0;
    }
    if (ready) schedule();
}

}  // namespace amlflow::runtime
