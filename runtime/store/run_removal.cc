#include "runtime/store/run_removal.h"

#include <chrono>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/store/run_lock.h"

namespace amlflow::runtime {
namespace fs = std::filesystem;
namespace {

// A folder under runs/ that no record names may be a run being created this instant (its
// folder and lock come just before its record): one that holds nothing else yet and is
// young, or whose lock is held, is left alone.
constexpr auto kOrphanAge = std::chrono::minutes(1);

bool may_be_in_creation(const fs::path& folder) {
    if (RunLock::holder(folder) != 0) return true;
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
        if (entry.path().filename() != "lock") return false;
    }
    return fs::last_write_time(folder, ec) > fs::file_time_type::clock::now() - kOrphanAge;
}

struct Reference {
    std::string run, step;
};
using References = std::map<fs::path, Reference>;

bool is_inside(const fs::path& path, const fs::path& folder) {
    fs::path relative = path.lexically_relative(folder);
    return !relative.empty() && *relative.begin() != ".." && relative != ".";
}

void collect_strings(const nlohmann::json& value, std::vector<std::string>& out) {
    if (value.is_string()) {
        out.push_back(value.get<std::string>());
    } else if (value.is_structured()) {
        for (const auto& item : value) collect_strings(item, out);
    }
}

// Every path under runs/ that a step of a kept run reads from: its outputs, and what its
// result names (logs, a sweep's best trial's outputs, an exported file).
bool collect_references(RunStore& store, const std::vector<RunRecord>& kept, References* references,
                        std::string* error) {
    fs::path runs_root = store.folder() / "runs";
    for (const RunRecord& run : kept) {
        auto steps = store.steps_of(run.id);
        if (!steps) {
            *error = store.last_error();
            return false;
        }
        for (const StepRecord& step : *steps) {
            std::vector<std::string> paths = {step.outputs.string()};
            auto result = nlohmann::json::parse(step.result_json.empty() ? "{}" : step.result_json, nullptr, false);
            if (!result.is_discarded()) collect_strings(result, paths);
            for (const std::string& text : paths) {
                fs::path path = fs::path(text).lexically_normal();
                if (path.is_absolute() && is_inside(path, runs_root)) references->emplace(path, Reference{run.id, step.name});
            }
        }
    }
    return true;
}

std::uintmax_t size_of(const fs::path& path) {
    std::error_code ec;
    fs::file_status status = fs::symlink_status(path, ec);
    if (ec || !fs::is_directory(status)) return fs::is_regular_file(status) ? fs::file_size(path, ec) : 0;
    std::uintmax_t total = 0;
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
    }
    return total;
}

// What goes of `folder`: the whole of it, or each entry but the kept ones and the folders
// that lead to them.
void plan_folder(const fs::path& folder, const References& references, RemovalPlan* plan) {
    std::vector<fs::path> keep;
    for (const auto& [path, reference] : references) {
        if (path == folder) return;  // kept whole
        if (is_inside(path, folder)) keep.push_back(path);
    }
    if (keep.empty()) {
        plan->deleted.push_back(folder);
        plan->bytes += size_of(folder);
        return;
    }
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, ec)) {
        const fs::path& path = entry.path();
        bool leads_to_kept = false;
        for (const fs::path& kept : keep) leads_to_kept = leads_to_kept || kept == path || is_inside(kept, path);
        if (leads_to_kept && entry.is_directory(ec) && !entry.is_symlink(ec)) {
            plan_folder(path, references, plan);
        } else if (!leads_to_kept) {
            plan->deleted.push_back(path);
            plan->bytes += size_of(path);
        }
    }
}

// Each cache key a removed run answers goes to a kept step with the very same result (a
// run that reused it), or is dropped.
bool plan_cache(RunStore& store, const std::vector<std::string>& removed, const std::vector<RunRecord>& kept,
                RemovalPlan* plan, std::string* error) {
    std::map<std::string, std::vector<StepRecord>> kept_steps;
    for (const std::string& run : removed) {
        auto keys = store.cache_keys_of(run);
        auto steps = store.steps_of(run);
        if (!keys || !steps) {
            *error = store.last_error();
            return false;
        }
        for (const CacheEntry& key : *keys) {
            const StepRecord* origin = nullptr;
            for (const StepRecord& step : *steps) origin = step.name == key.step ? &step : origin;
            std::optional<CacheEntry> heir;
            for (const RunRecord& other : kept) {
                if (!origin || origin->result_json.empty() || heir) break;
                if (!kept_steps.count(other.id)) kept_steps[other.id] = store.steps_of(other.id).value_or(std::vector<StepRecord>{});
                for (const StepRecord& step : kept_steps[other.id]) {
                    bool done = step.state == StepState::Succeeded || step.state == StepState::Cached;
                    if (done && step.name == origin->name && step.kind == origin->kind && step.hash == origin->hash &&
                        step.result_json == origin->result_json) {
                        heir = CacheEntry{key.hash, other.id, step.name, key.created_ms};
                    }
                }
            }
            if (heir) plan->moved.push_back(*heir);
            else plan->dropped.push_back(key);
        }
    }
    return true;
}

}  // namespace

std::optional<RemovalPlan> plan_removal(RunStore& store, const std::vector<std::string>& runs, std::string* error) {
    auto all = store.list_runs(0);
    if (!all) {
        *error = store.last_error();
        return std::nullopt;
    }
    std::set<std::string> removed(runs.begin(), runs.end()), known;
    std::vector<RunRecord> kept;
    for (const RunRecord& run : *all) {
        known.insert(run.id);
        if (!removed.count(run.id)) kept.push_back(run);
    }
    RemovalPlan plan;
    for (const RunRecord& run : *all) {
        if (removed.count(run.id)) plan.runs.push_back(run.id);
    }
    References references;
    if (!collect_references(store, kept, &references, error)) return std::nullopt;
    fs::path runs_root = store.folder() / "runs";
    std::vector<fs::path> folders;
    for (const std::string& run : plan.runs) folders.push_back(runs_root / run);
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(runs_root, ec)) {
        std::string name = entry.path().filename().string();
        if (known.count(name) || !entry.is_directory(ec) || may_be_in_creation(entry.path())) continue;
        folders.push_back(entry.path());
    }
    for (const fs::path& folder : folders) {
        if (fs::exists(folder, ec)) plan_folder(folder, references, &plan);
    }
    // Said of the removed runs' folders only: what an earlier removal left is kept quietly.
    for (const auto& [path, reference] : references) {
        for (const std::string& run : plan.runs) {
            if (is_inside(path, runs_root / run)) plan.kept.push_back({path, reference.run, reference.step});
        }
    }
    if (!plan_cache(store, plan.runs, kept, &plan, error)) return std::nullopt;
    return plan;
}

std::optional<RemovalPlan> remove_runs(RunStore& store, const std::vector<std::string>& runs, std::string* error) {
    std::vector<RunLock> locks;
    std::error_code ec;
    for (const std::string& run : runs) {
        fs::path folder = store.folder() / "runs" / run;
        if (!fs::exists(folder, ec)) continue;  // nothing can hold a lock there
        bool held = false;
        std::string why;
        auto lock = RunLock::acquire(folder, &why, &held);
        if (!lock) {
            pid_t pid = held ? RunLock::holder(folder) : 0;
            *error = held ? "run '" + run + "' is running" + (pid ? " (pid " + std::to_string(pid) + ")" : "") +
                                "; stop it first (amlflow cancel " + run + ")"
                          : "cannot lock run '" + run + "': " + why;
            return std::nullopt;
        }
        locks.push_back(std::move(*lock));
    }
    auto plan = plan_removal(store, runs, error);
    if (!plan) return std::nullopt;
    if (!store.delete_runs(plan->runs, plan->moved)) {
        *error = store.last_error();
        return std::nullopt;
    }
    // The records are gone first: files left by a failure here are freed by the next gc.
    for (const fs::path& path : plan->deleted) {
        fs::remove_all(path, ec);
        if (ec) plan->warnings.push_back("cannot delete " + path.string() + ": " + ec.message());
    }
    return plan;
}

}  // namespace amlflow::runtime
