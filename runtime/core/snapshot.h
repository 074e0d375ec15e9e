// The working directory of a job's attempt: a copy of its source folder, as the source
// snapshot (compiler/source_tree.h) defines it: `.amlignore`, else `.gitignore`, is
// honoured; `.git`, `__pycache__` and `.amlflow` are left out; a job's `source_include`
// keeps only the files it matches. A copy, not links, so a
// script that writes next to itself cannot change the user's files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace amlflow::runtime {

struct SnapshotResult {
    std::string hash;   // the source digest, as in the plan
    size_t files = 0;
};

// Copies `source` into `destination` (created; must not exist or be empty). Files under
// `leave_out` (the run store, when $AMLFLOW_HOME lies inside the source) are not copied.
// `include` (a job's `source_include`), when not empty, keeps only the files it matches.
std::optional<SnapshotResult> snapshot_source(const std::filesystem::path& source,
                                              const std::filesystem::path& destination,
                                              const std::filesystem::path& leave_out, std::string* error,
                                              const std::vector<std::string>& include = {});

}  // namespace amlflow::runtime
