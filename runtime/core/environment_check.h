// Before any rank starts: does the job's environment hold what it declares? The
// interpreter must run and every `pip` requirement must be installed. What is missing is
// installed into a virtual environment made for it (on top of the interpreter's own
// packages) and cached in the run store by the environment's hash; when that cannot be
// done (an offline machine), one clear message names what is missing, instead of a
// traceback from rank 3. A check that found everything installed leaves a stamp
// (environment_stamp.h) that the run store keeps, so later runs need not ask Python again.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/environment_stamp.h"

namespace amlflow::runtime {

struct EnvironmentReady {
    std::string python;  // the interpreter ranks run: the environment's, or the cached venv's
    std::string note;    // what was done ("installed onnx into ..."), or empty
    // Made when the environment lists requirements and all were found installed, unless
    // something it rests on changed too recently to trust its mtime (kRacyMarginNs).
    std::optional<EnvironmentStamp> stamp;
};

// The question a stamp answers, for an environment node's `fields` and the
// startup_variables() its check runs with: python, requirements_json and variables_json
// are filled, the rest is left empty.
EnvironmentStamp environment_question(const nlohmann::json& fields, const std::map<std::string, std::string>& variables);

// `fields`: the environment node's fields; `variables`: startup_variables() with the
// environment's own `variables`, which the interpreter is started with; `hash`: its plan
// hash (names the cache); `cache`: the folder holding cached virtual environments.
// nullopt with *error when the environment cannot be made ready.
std::optional<EnvironmentReady> prepare_environment(const nlohmann::json& fields,
                                                    const std::map<std::string, std::string>& variables,
                                                    const std::string& hash, const std::filesystem::path& cache,
                                                    std::string* error);

// Python (for `python -c`) defining probe(names, watch): the names of `names` (pip
// distribution names) not installed for the running interpreter, and `watch` extended with
// the paths that answer rests on (the distributions' metadata, sys.path, site folders and
// their .pth files, pyvenv.cfg). importlib.metadata reads the installed metadata without
// importing anything; sys.path[0] of `-c` (the caller's folder) is left out. Shared by the
// check here and the one run on each host (runtime/hosts/preflight_script.cc).
std::string requirements_probe_python();

// The distribution name of a pip requirement: "torch>=1.13" -> "torch".
std::string requirement_name(const std::string& requirement);

}  // namespace amlflow::runtime
