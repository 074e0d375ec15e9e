// The cache, as a question: a step's cache key, and whether the run store holds a result
// for it that may still be reused. The executor asks both before it runs a step
// (executor_reuse.cc); `amlflow plan` asks them of every step to mark what a run would
// reuse (cache_preview), so the two cannot disagree on what the cache holds.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/core/artifacts.h"
#include "runtime/core/plan_model.h"
#include "runtime/store/run_store.h"

namespace amlflow::runtime {

// A step's cache key: its plan hash (which holds its compute, source, environment and
// fields), its name and kind, the content of every step result it reads (as `results`
// resolves them) and a fingerprint of every local file it names. `plan_folder`: where
// the plan's relative paths start.
std::optional<std::string> cache_key_of(const StepPlan& step, const StepResults& results,
                                        const std::filesystem::path& plan_folder, std::string* error);

// Every `$output` reference in a spec, in a stable order.
void collect_outputs(const nlohmann::json& value, std::vector<const nlohmann::json*>& found);
// Whether a result names a file or folder (outputs, logs, an export's file) rather than
// a value (best.params.lr).
bool is_path_result(const nlohmann::json& reference);
// The results a step's record holds ({"results": {...}}), by name.
std::map<std::string, std::string> results_of(const nlohmann::json& record);

// A completed result that answers a cache key.
struct CacheHit {
    CacheEntry entry;     // the run and step that recorded the key
    StepRecord origin;    // that step's record
    std::string from;     // the run that first produced the result (cached_from, else entry's run)
    std::map<std::string, std::string> results;  // its results, for steps that read them
};

// The result for `key` if it may be reused by `step` in run `this_run`: recorded by a
// completed step of another run, with what it points at still there (outputs, a model
// version, a download's destination unchanged).
std::optional<CacheHit> find_cached(RunStore& store, const StepPlan& step, const std::string& key,
                                    const std::string& this_run, const std::filesystem::path& plan_folder);

// What a run of `plan` would reuse from `store`, by step name (the run it would reuse it
// from), nothing run or recorded. Steps are asked in plan order, a reused step's results
// standing in for what it would make; a step that reads a result of a step that would run
// is not known before that runs, and is not listed. Sweeps are asked as a whole.
std::map<std::string, std::string> preview_cache(const RunPlan& plan, RunStore& store,
                                                 const std::filesystem::path& plan_folder);

}  // namespace amlflow::runtime
