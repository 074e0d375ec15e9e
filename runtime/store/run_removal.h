// Removing runs (`amlflow runs rm`, `amlflow gc`) without breaking what stays: another
// run's cached step answers from the folder of the run that first produced it (its
// outputs, its logs, a sweep's best trial point there), and `--resume` and the cache of
// the runs kept read those folders. So a removed run's folder goes except for what a kept
// run's step still points at; each cache key the removed run answered is handed to a kept
// step that has the very same result, or dropped (that step runs again next time), and
// the plan says which. Folders under runs/ that no record names (left by an earlier removal
// once nothing points at them, or by a crash) are freed too.
//
// A live run is never removed: removal takes each run's lock (run_lock.h) first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/store/run_store.h"

namespace amlflow::runtime {

struct KeptFolder {
    std::filesystem::path path;   // inside a removed run's folder
    std::string run, step;        // a kept run's step that points at it
};

struct RemovalPlan {
    std::vector<std::string> runs;               // the runs whose records go
    std::vector<std::filesystem::path> deleted;  // files and folders deleted, whole
    std::vector<KeptFolder> kept;                // what stays of the removed runs' folders
    std::vector<CacheEntry> moved;               // cache keys now answered by (run, step), kept
    std::vector<CacheEntry> dropped;             // cache keys that go: (run, step) removed
    std::uintmax_t bytes = 0;                    // the size of `deleted`
    std::vector<std::string> warnings;           // remove_runs: what could not be deleted
};

// What removing `runs` (ids, whole) would do. nullopt with *error on a store error.
std::optional<RemovalPlan> plan_removal(RunStore& store, const std::vector<std::string>& runs, std::string* error);

// Removes the runs: takes their locks (a live run is refused, and nothing is removed),
// plans again under the locks, deletes the records (one transaction), then the files.
// Returns what it did, or nullopt with *error.
std::optional<RemovalPlan> remove_runs(RunStore& store, const std::vector<std::string>& runs, std::string* error);

}  // namespace amlflow::runtime
