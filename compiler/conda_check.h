// Warnings where an Azure ML environment's conda YAML cannot resolve (issue 18 item 2;
// docs/runtime.md "Environments on Azure ML"): a conda file that is not a conda environment
// (not a mapping, no `dependencies` list, a `pip:` section of the wrong shape, an unknown
// key), a pinned release that does not exist, a pinned release whose Python range
// (python_support.h) misses the environment's `python=`. Every warning points at what is
// written: the YAML file's line for a conda file, the .amlflow field for inline lists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/diagnostics.h"
#include "compiler/source.h"

namespace amlflow::compiler {

// A requirement as written, and where.
struct CondaRequirement {
    std::string text;   // "torch==1.13.1", "numpy=1.21", "python=3.12"
    SourceRange range;
    bool pip = false;   // from a pip list (pip's syntax), else conda's
};

struct CondaRequirements {
    std::optional<CondaRequirement> python;  // the python dependency, or python_version
    std::string python_note;                 // set when python is not written: where it comes from
    std::vector<CondaRequirement> packages;  // conda packages, then pip ones
};

// Reads a conda environment file; warns about its shape (`file`'s ranges) and returns what
// it requires. `environment` names the declaration, for messages.
CondaRequirements read_conda_file(const SourceFile& file, const std::string& environment, Diagnostics& diagnostics);

// Warns about each pinned release that does not exist or does not support the Python the
// requirements ask for.
void check_conda_requirements(const CondaRequirements& requirements, Diagnostics& diagnostics);

}  // namespace amlflow::compiler
