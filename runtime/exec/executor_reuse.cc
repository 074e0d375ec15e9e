// Reusing what is already done: the completed steps of a resumed run, and cached steps
// of earlier runs whose content hash matches. A step's cache key is its compiler hash
// (source snapshot, environment, arguments, ...) and the content of every file it reads
// from other steps, so a step whose inputs came out the same is reused even when the
// step that made them ran again.
#include "runtime/exec/cache_lookup.h"
#include "runtime/exec/executor.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_done(StepState state) { return state == StepState::Succeeded || state == StepState::Cached; }

}  // namespace

bool Executor::reuse(StepRun& step) {
    if (options_.resume && reuse_from_resumed_run(step)) return true;
    std::string error;
    // (On --resume, force and force_steps hold the run's recorded flags too.)
    if (!check_references(step, &error)) {
        fail_step(step, error);
        return true;
    }
    auto key = compute_cache_key(step, &error);
    if (!key) {
        fail_step(step, error);
        return true;
    }
    step.cache_key = *key;
    bool forced = options_.force || options_.force_steps.count(step.plan->name) ||
                  (!step.parent.empty() && options_.force_steps.count(step.parent));
    return !forced && reuse_from_cache(step);
}

bool Executor::reuse_from_resumed_run(StepRun& step) {
    auto found = previous_.find(step.plan->name);
    if (found == previous_.end()) return false;  // e.g. a trial the killed run had not drawn yet
    const StepRecord& record = found->second;
    bool rerun = options_.rerun_steps.count(step.plan->name) ||
                 (!step.parent.empty() && options_.rerun_steps.count(step.parent));
    // A trial the sweep's policy stopped early stays stopped: the decision was made.
    bool kept = is_done(record.state) || (record.state == StepState::StoppedEarly && !step.parent.empty());
    if (kept && !rerun) {
        json result = json::parse(record.result_json.empty() ? "{}" : record.result_json, nullptr, false);
        results_[step.plan->name] = results_of(result);
        if (!step.parent.empty()) {
            // A trial this run had from the cache has its metrics in the run it came from.
            auto& results = results_[step.plan->name];
            load_trial_series(step, results.count("run") ? results["run"] : run_id_,
                              results.count("step") ? results["step"] : step.plan->name);
        }
        step.carried = true;
        step.started_ms = record.started_ms;
        finish_step(step, record.state, false);
        step.finished_ms = record.finished_ms;  // for the summary: the time it took then
        return true;
    }
    // Unfinished: attempts the killed interpreter left running ended with it.
    if (auto attempts = store_.attempts_of(run_id_, step.plan->name)) {
        for (const AttemptRecord& attempt : *attempts) {
            if (attempt.state != AttemptState::Running) continue;
            json failure = {{"reason", "interrupted"}, {"rank", -1}, {"message", "amlflow stopped before the attempt ended"}};
            store_.finish_attempt(run_id_, step.plan->name, attempt.number, AttemptState::Canceled, failure.dump());
        }
        step.attempt = static_cast<int>(attempts->size()) - 1;
    }
    store_.reset_step(run_id_, step.plan->name);
    return false;
}

bool Executor::check_references(const StepRun& step, std::string* error) {
    std::vector<const json*> references;
    collect_outputs(step.plan->spec, references);
    for (const json* reference : references) {
        auto resolved = resolve_output(*reference, results_, error);
        std::string why;
        if (!resolved) {
            why = *error;
        } else if (is_path_result(*reference) && !require_inside(resolved->path, resolved->root, resolved->shown, &why)) {
        } else {
            continue;
        }
        *error = "step '" + step.plan->name + "' needs " + (resolved ? resolved->shown : "a result") + " from step '" +
                 (*reference)["$output"].value("step", "") + "': " + why;
        return false;
    }
    return true;
}

std::optional<std::string> Executor::compute_cache_key(const StepRun& step, std::string* error) {
    return cache_key_of(*step.plan, results_, options_.plan_folder, error);
}

bool Executor::reuse_from_cache(StepRun& step) {
    auto hit = find_cached(store_, *step.plan, step.cache_key, run_id_, options_.plan_folder);
    if (!hit) return false;
    // The state last: a record that says cached always has its outputs and result.
    store_.set_step_outputs(run_id_, step.plan->name, hit->origin.outputs);
    store_.set_step_result(run_id_, step.plan->name, hit->origin.result_json);
    store_.set_step_state(run_id_, step.plan->name, StepState::Cached, hit->from);
    results_[step.plan->name] = hit->results;
    if (!step.parent.empty()) load_trial_series(step, hit->entry.run_id, hit->entry.step);
    finish_step(step, StepState::Cached, false);
    return true;
}

void Executor::succeed(StepRun& step, std::map<std::string, std::string> results, json extra) {
    json record = extra.is_object() ? extra : json::object();
    if (!step.remote_job.empty()) results["job"] = step.remote_job;  // its files stay there too
    record["results"] = results;
    results_[step.plan->name] = std::move(results);
    store_.set_step_result(run_id_, step.plan->name, record.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!step.cache_key.empty()) store_.put_cache_key(step.cache_key, run_id_, step.plan->name);
    finish_step(step, StepState::Succeeded);
}

}  // namespace amlflow::runtime
