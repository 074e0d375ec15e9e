#include "compiler/compile.h"

#include "compiler/checker.h"
#include "compiler/piece_parsers.h"
#include "compiler/step_renderer.h"

namespace amlflow::compiler {

namespace {

// Frees every module's declarations; the sources stay, for diagnostics' ranges.
void drop_syntax_trees(ModuleSet& modules) {
    for (auto& module : modules.modules) {
        if (module->ast) std::vector<ast::Decl>().swap(module->ast->decls);
    }
}

}  // namespace

std::unique_ptr<CompileResult> compile_file(const std::string& path, const CompileOptions& options) {
    auto result = std::make_unique<CompileResult>();
    LoadOptions load;
    if (options.main_text) load.main_text = std::string_view(*options.main_text);
    load.pack_steps = options.build_plan;  // the checker unpacks each step in turn (drop_step_trees)
    result->modules = load_modules(path, load, result->diagnostics);
    if (result->modules.modules.empty()) return result;
    CheckOptions check;
    check.sets = options.sets;
    check.machine = options.machine;
    check.compute = options.compute;
    check.drop_step_trees = options.build_plan;
    // A step's part of the plan is rendered as soon as it is checked, which frees its
    // values; on a large file, on a thread of its own (step_renderer.h).
    // The program before the renderer: on a throw, the renderer's thread is gone before the
    // steps it may be working on.
    CheckedProgram program;
    const std::string_view main_text = result->modules.modules[0]->ast->source->text();
    StepRenderer renderer(options.build_plan && PieceParsers::workers_for(main_text.size()) > 0);
    if (options.build_plan) check.on_step_checked = [&renderer](CheckedStep& step) { renderer.add(step); };
    {
        Checker checker(result->modules, check, result->diagnostics);
        checker.run(program);
        result->extra_sources = checker.take_extra_sources();
    }
    renderer.finish();
    if (options.build_plan && !result->diagnostics.has_errors()) {
        // The plan needs only the checked program: what is left of the syntax trees (the
        // declarations and the job templates; each step's went once it was checked) goes
        // first.
        drop_syntax_trees(result->modules);
        Plan plan = build_plan(std::move(program), result->diagnostics);
        if (!result->diagnostics.has_errors()) result->plan = std::move(plan);
    }
    return result;
}

}  // namespace amlflow::compiler
