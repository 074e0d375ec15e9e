// Loads the main file and, transitively, what it imports: stdlib modules
// (`import "std/curated"`, embedded in the binary) and relative files
// (`import "common.amlflow"`). Reports files that are missing, unreadable, not UTF-8, or
// imported in a cycle.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"

namespace amlflow::compiler {

struct LoadedModule {
    std::unique_ptr<ast::Module> ast;
    std::filesystem::path folder;  // relative paths in this module start here
    bool is_stdlib = false;
    // alias -> index into ModuleSet::modules, for each import that loaded
    std::vector<std::pair<std::string, size_t>> imports;
};

struct ModuleSet {
    std::vector<std::unique_ptr<LoadedModule>> modules;  // modules[0] is the main file
    bool main_loaded = false;
};

struct LoadOptions {
    // The main file's text when it is not (or not yet) on disk: an editor buffer, a fuzz
    // input. Copied once, into the module's source; it must outlive the call.
    std::optional<std::string_view> main_text;
    // The main file's steps come back packed (ast_pack.h) when it parses in pieces: for a
    // caller that unpacks and checks one step at a time (compile_file for a plan).
    bool pack_steps = false;
};

ModuleSet load_modules(const std::string& main_path, const LoadOptions& options,
                       Diagnostics& diagnostics);

// Names of the embedded stdlib modules, as imported: "std/curated", ...
std::vector<std::string> stdlib_module_names();

}  // namespace amlflow::compiler
