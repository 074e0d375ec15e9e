// amlflow's Python helpers (stdlib/python: the metrics helper `amlflow`, the ONNX
// exporter) are compiled into the binary, like the .amlflow stdlib, so an installed
// amlflow needs no files beside it. A run writes them out into its store once, and
// puts that folder first on every rank's PYTHONPATH.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace amlflow::runtime {

// Writes the embedded python/*.py files into <store>/lib/python (rewriting only what
// differs, through a temporary name, so a running rank never reads half a file).
// Returns that folder, or nullopt with *error.
std::optional<std::filesystem::path> install_python_lib(const std::filesystem::path& store, std::string* error);

}  // namespace amlflow::runtime
