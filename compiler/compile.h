// The compiler's front door: a file (and `--set` values) in; diagnostics and, when the
// file is clean, the plan out. Used by the CLI, the tests, the fuzzer and the benchmarks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/checked_program.h"
#include "compiler/checker.h"
#include "compiler/diagnostics.h"
#include "compiler/loader.h"
#include "compiler/plan.h"

namespace amlflow::compiler {

struct CompileOptions {
    std::vector<std::string> sets;           // "name=value"
    std::optional<std::string> main_text;    // instead of reading the main file
    bool build_plan = true;                  // false: check only
    std::function<MachineShape()> machine;   // see CheckOptions::machine
    std::string compute;                     // --compute NAME: see CheckOptions::compute
};

struct CompileResult {
    Diagnostics diagnostics;
    ModuleSet modules;  // keeps the sources alive; their declarations are dropped once a plan is built
    std::vector<std::shared_ptr<const SourceFile>> extra_sources;
    std::optional<Plan> plan;                             // set when there is no error
    bool ok() const { return !diagnostics.has_errors(); }
};

std::unique_ptr<CompileResult> compile_file(const std::string& path, const CompileOptions& options);

}  // namespace amlflow::compiler
