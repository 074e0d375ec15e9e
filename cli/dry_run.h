// `amlflow run --dry-run`: what a run would start, and nothing started or recorded. Every
// job's processes (argv and the variables amlflow sets), every sweep's trials (index and
// parameter values) with the processes each would start, and what the other steps would
// do. With --resume, only the steps the resumed run would still run.
#pragma once

#include <map>
#include <set>
#include <string>

#include "runtime/core/plan_model.h"

namespace amlflow::cli {

struct DryRunOptions {
    std::set<std::string> only;  // empty: every step of the plan
    std::set<std::string> kept;  // --resume: steps the run completed, shown as kept
};

// Prints to stdout; returns the exit code (0: the plan can be shown).
int dry_run(const runtime::RunPlan& plan, const std::map<std::string, std::string>& base_env,
            const DryRunOptions& options = {});

}  // namespace amlflow::cli
