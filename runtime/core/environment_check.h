// Before any rank starts: does the job's environment hold what it declares? The
// interpreter must run and every `pip` requirement must be installed. What is missing is
// installed into a virtual environment made for it (on top of the interpreter's own
// packages) and cached in the run store by the environment's hash; when that cannot be
// done (an offline machine), one clear message names what is missing, instead of a
// traceback from rank 3.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

struct EnvironmentReady {
    std::string python;  // the interpreter ranks run: the environment's, or the cached venv's
    std::string note;    // what was done ("installed onnx into ..."), or empty
};

// `fields`: the environment node's fields; `hash`: its plan hash (names the cache);
// `cache`: the folder holding cached virtual environments. nullopt with *error when the
// environment cannot be made ready.
std::optional<EnvironmentReady> prepare_environment(const nlohmann::json& fields, const std::string& hash,
                                                    const std::filesystem::path& cache, std::string* error);

// The distribution name of a pip requirement: "torch>=1.13" -> "torch".
std::string requirement_name(const std::string& requirement);

}  // namespace amlflow::runtime
