// Which run store a `runs` or `logs` command reads: --store DIR, else $AMLFLOW_HOME, else
// the .amlflow folder of the pipeline given with --file, else ./.amlflow.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "runtime/store/run_store.h"

namespace amlflow::cli {

struct StoreOption {
    std::string store;
    std::string file;

    void add_to(CLI::App* command);
    std::filesystem::path folder() const;
    // Opens an existing store; prints why not and returns nullptr when it cannot.
    std::unique_ptr<runtime::RunStore> open() const;
    // A run by id or unique prefix; prints why not (no such run, an ambiguous prefix)
    // and returns nullopt when there is none.
    static std::optional<runtime::RunRecord> find_run(runtime::RunStore& store, const std::string& id);
};

}  // namespace amlflow::cli
