// Reusing what is already done: the completed steps of a resumed run, and cached steps
// of earlier runs whose content hash matches. A step's cache key is its compiler hash
// (source snapshot, environment, arguments, ...) and the content of every file it reads
// from other steps, so a step whose inputs came out the same is reused even when the
// step that made them ran again.
#include "compiler/sha256.h"
#include "runtime/exec/executor.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_done(StepState state) { return state == StepState::Succeeded || state == StepState::Cached; }

// Every `$output` reference in a spec, in a stable order.
void collect_outputs(const json& value, std::vector<const json*>& found) {
    if (value.is_object()) {
        if (is_output_reference(value)) {
            found.push_back(&value);
            return;
        }
        for (auto it = value.begin(); it != value.end(); ++it) collect_outputs(it.value(), found);
    } else if (value.is_array()) {
        for (const json& item : value) collect_outputs(item, found);
    }
}

// Every local path a spec reads (`{"$path": ...}`), but for the job's own source folder
// and script, which the source snapshot's digest in the plan hash already covers, and a
// download's destination, which it writes.
void collect_paths(const json& value, std::vector<std::string>& found, bool top = true) {
    if (value.is_object()) {
        if (value.size() == 1 && value.contains("$path") && value["$path"].is_string()) {
            found.push_back(value["$path"].get<std::string>());
            return;
        }
        for (auto it = value.begin(); it != value.end(); ++it) {
            if (top && (it.key() == "source" || it.key() == "script" || it.key() == "to" || it.key()[0] == '$')) {
                continue;
            }
            collect_paths(it.value(), found, false);
        }
    } else if (value.is_array()) {
        for (const json& item : value) collect_paths(item, found, false);
    }
}

// Whether a result names a file or folder (outputs, logs, an export's file) rather than
// a value (best.params.lr).
bool is_path_result(const json& value) {
    std::vector<std::string> result = value["$output"].value("result", std::vector<std::string>{});
    if (result.empty()) return false;
    const std::string& last = result.back();
    return last == "outputs" || last == "logs" || last == "file";
}

std::map<std::string, std::string> results_of(const json& record) {
    std::map<std::string, std::string> results;
    if (!record.is_object() || !record.contains("results") || !record["results"].is_object()) return results;
    for (auto it = record["results"].begin(); it != record["results"].end(); ++it) {
        if (it.value().is_string()) results[it.key()] = it.value().get<std::string>();
    }
    return results;
}

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
    compiler::Sha256 key;
    // The name too: a script sees it (AMLFLOW_STEP), so two steps alike in every field
    // are still two results.
    key.update("amlflow-cache-1\n" + step.plan->kind + "\n" + step.plan->name + "\n" + step.plan->hash + "\n");
    std::vector<const json*> references;
    collect_outputs(step.plan->spec, references);
    for (const json* reference : references) {
        auto resolved = resolve_output(*reference, results_, error);
        if (!resolved) return std::nullopt;
        key.update(resolved->shown + "\n");
        if (is_path_result(*reference)) {
            auto digest = content_digest(resolved->path, error);
            if (!digest) {
                *error = "step '" + step.plan->name + "' needs " + resolved->shown + ": " + *error;
                return std::nullopt;
            }
            key.update(digest->hash + "\n");
        } else {
            key.update(resolved->path.string() + "\n");
        }
    }
    // Local files the step reads: their content (or, for large ones, size and time), so
    // an edited data file or model is not answered by a stale result.
    std::vector<std::string> paths;
    collect_paths(step.plan->spec, paths);
    std::error_code ec;
    fs::path folder = fs::absolute(options_.plan_folder, ec);
    for (const std::string& path : paths) {
        if (path.find("://") != std::string::npos) continue;
        key.update(path + "\n" + input_fingerprint((folder / path).lexically_normal()) + "\n");
    }
    return key.hex_digest();
}

bool Executor::reuse_from_cache(StepRun& step) {
    auto entry = store_.find_cache_key(step.cache_key);
    if (!entry || entry->run_id == run_id_) return false;
    auto records = store_.steps_of(entry->run_id);
    if (!records) return false;
    const StepRecord* origin = nullptr;
    for (const StepRecord& record : *records) {
        if (record.name == entry->step) origin = &record;
    }
    if (!origin || !is_done(origin->state) || origin->result_json.empty()) return false;
    json result = json::parse(origin->result_json, nullptr, false);
    std::map<std::string, std::string> results = results_of(result);
    // What the cached record points at must still be there.
    std::error_code ec;
    for (const char* key : {"outputs", "best.outputs", "file"}) {
        if (results.count(key) && !fs::exists(results[key], ec)) return false;
    }
    if (step.plan->kind == "register" && !store_.find_model(results["name"], std::atoi(results["version"].c_str()))) {
        return false;
    }
    if (step.plan->kind == "download") {
        // Another pipeline folder with the same file has its own destination.
        const json& to = step.plan->spec.value("to", json::object());
        std::error_code ec;
        fs::path here = fs::absolute(options_.plan_folder, ec) / (to.is_object() ? to.value("$path", "") : "");
        fs::path cached = results["to"];
        if (cached.parent_path() != here.lexically_normal() && cached != here.lexically_normal()) return false;
        std::string ignored;
        auto now = content_digest(results["to"], &ignored);
        if (!now || now->hash != result.value("digest", "")) return false;
    }
    std::string from = origin->cached_from.empty() ? entry->run_id : origin->cached_from;
    // The state last: a record that says cached always has its outputs and result.
    store_.set_step_outputs(run_id_, step.plan->name, origin->outputs);
    store_.set_step_result(run_id_, step.plan->name, origin->result_json);
    store_.set_step_state(run_id_, step.plan->name, StepState::Cached, from);
    results_[step.plan->name] = results;
    if (!step.parent.empty()) load_trial_series(step, entry->run_id, entry->step);
    finish_step(step, StepState::Cached, false);
    return true;
}

void Executor::succeed(StepRun& step, std::map<std::string, std::string> results, json extra) {
    json record = extra.is_object() ? extra : json::object();
    record["results"] = results;
    results_[step.plan->name] = std::move(results);
    store_.set_step_result(run_id_, step.plan->name, record.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!step.cache_key.empty()) store_.put_cache_key(step.cache_key, run_id_, step.plan->name);
    finish_step(step, StepState::Succeeded);
}

}  // namespace amlflow::runtime
