#include "compiler/compile.h"

#include "compiler/checker.h"

namespace amlflow::compiler {

std::unique_ptr<CompileResult> compile_file(const std::string& path, const CompileOptions& options) {
    auto result = std::make_unique<CompileResult>();
    LoadOptions load;
    if (options.main_text) load.main_text = std::string_view(*options.main_text);
    result->modules = load_modules(path, load, result->diagnostics);
    if (result->modules.modules.empty()) return result;
    CheckOptions check;
    check.sets = options.sets;
    check.machine = options.machine;
    check.compute = options.compute;
    Checker checker(result->modules, check, result->diagnostics);
    CheckedProgram program = checker.run();
    result->extra_sources = checker.take_extra_sources();
    if (options.build_plan && !result->diagnostics.has_errors()) {
        Plan plan = build_plan(program, result->diagnostics);
        if (!result->diagnostics.has_errors()) result->plan = std::move(plan);
    }
    return result;
}

}  // namespace amlflow::compiler
