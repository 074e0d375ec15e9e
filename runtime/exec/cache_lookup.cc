#include "runtime/exec/cache_lookup.h"

#include "compiler/sha256.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

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

namespace {

bool is_done(StepState state) { return state == StepState::Succeeded || state == StepState::Cached; }

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

}  // namespace

std::optional<std::string> cache_key_of(const StepPlan& step, const StepResults& results, const fs::path& plan_folder,
                                        std::string* error) {
    compiler::Sha256 key;
    // The name too: a script sees it (AMLFLOW_STEP), so two steps alike in every field
    // are still two results.
    key.update("amlflow-cache-1\n" + step.kind + "\n" + step.name + "\n" + step.hash + "\n");
    std::vector<const json*> references;
    collect_outputs(step.spec, references);
    for (const json* reference : references) {
        auto resolved = resolve_output(*reference, results, error);
        if (!resolved) return std::nullopt;
        key.update(resolved->shown + "\n");
        if (is_path_result(*reference)) {
            auto digest = content_digest(resolved->path, error);
            if (!digest) {
                *error = "step '" + step.name + "' needs " + resolved->shown + ": " + *error;
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
    collect_paths(step.spec, paths);
    std::error_code ec;
    fs::path folder = fs::absolute(plan_folder, ec);
    for (const std::string& path : paths) {
        if (path.find("://") != std::string::npos) continue;
        key.update(path + "\n" + input_fingerprint((folder / path).lexically_normal()) + "\n");
    }
    return key.hex_digest();
}

std::optional<CacheHit> find_cached(RunStore& store, const StepPlan& step, const std::string& key,
                                    const std::string& this_run, const fs::path& plan_folder) {
    auto entry = store.find_cache_key(key);
    if (!entry || entry->run_id == this_run) return std::nullopt;
    auto records = store.steps_of(entry->run_id);
    if (!records) return std::nullopt;
    CacheHit hit;
    hit.entry = *entry;
    bool found = false;
    for (const StepRecord& record : *records) {
        if (record.name == entry->step) {
            hit.origin = record;
            found = true;
        }
    }
    if (!found || !is_done(hit.origin.state) || hit.origin.result_json.empty()) return std::nullopt;
    json result = json::parse(hit.origin.result_json, nullptr, false);
    hit.results = results_of(result);
    // What the cached record points at must still be there; a remote job's outputs are kept
    // by its place too, and come back when a step reads them (executor_fetch.cc).
    std::error_code ec;
    for (const char* name : {"outputs", "best.outputs", "file"}) {
        if (!hit.results.count(name) || fs::exists(hit.results[name], ec)) continue;
        std::string job = std::string(name) == "best.outputs" ? "best.job" : std::string(name) == "outputs" ? "job" : "";
        if (job.empty() || hit.results[job].empty()) return std::nullopt;
    }
    if (step.kind == "register" &&
        !store.find_model(hit.results["name"], std::atoi(hit.results["version"].c_str()))) {
        return std::nullopt;
    }
    if (step.kind == "download") {
        // Another pipeline folder with the same file has its own destination.
        const json& to = step.spec.value("to", json::object());
        fs::path here = fs::absolute(plan_folder, ec) / (to.is_object() ? to.value("$path", "") : "");
        fs::path cached = hit.results["to"];
        if (cached.parent_path() != here.lexically_normal() && cached != here.lexically_normal()) return std::nullopt;
        std::string ignored;
        auto now = content_digest(hit.results["to"], &ignored);
        if (!now || now->hash != result.value("digest", "")) return std::nullopt;
    }
    hit.from = hit.origin.cached_from.empty() ? entry->run_id : hit.origin.cached_from;
    return hit;
}

std::map<std::string, std::string> preview_cache(const RunPlan& plan, RunStore& store, const fs::path& plan_folder) {
    std::map<std::string, std::string> reused;
    StepResults results;
    for (const StepPlan& step : plan.steps) {
        // A result of a step that would run is not in `results`: no key, not listed.
        std::string error;
        auto key = cache_key_of(step, results, plan_folder, &error);
        if (!key) continue;
        auto hit = find_cached(store, step, *key, "", plan_folder);
        if (!hit) continue;
        reused[step.name] = hit->from;
        results[step.name] = hit->results;
    }
    return reused;
}

}  // namespace amlflow::runtime
