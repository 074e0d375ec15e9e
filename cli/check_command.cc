// `amlflow check FILE...`: every diagnostic of every file, in one pass.
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "compiler/compile.h"
#include "runtime/core/gpu_discovery.h"
#include "runtime/report/terminal_sink.h"

namespace amlflow::cli {

bool use_color_on_stderr() { return runtime::colour_allowed(STDERR_FILENO); }

compiler::MachineShape this_machine() {
    compiler::MachineShape shape;
    shape.cpus = sysconf(_SC_NPROCESSORS_ONLN);
    shape.gpus = static_cast<int64_t>(runtime::discover_gpus().gpus.size());
    return shape;
}

namespace {

struct CheckArgs {
    std::vector<std::string> files;
    std::vector<std::string> sets;
    std::string compute;
    std::string diagnostics = "text";
};

}  // namespace

Runner add_check_command(CLI::App& app) {
    auto args = std::make_shared<CheckArgs>();
    CLI::App* command = app.add_subcommand("check", "Check .amlflow files: syntax, names, types and rules; runs nothing");
    command->add_option("files", args->files, "The files to check")->required()->check(CLI::ExistingFile);
    command->add_option("--set", args->sets, "Set a param: --set epochs=3 (repeatable)")->allow_extra_args(false);
    command->add_option("--compute", args->compute,
                        "Check as if every job ran on this compute (one the file declares)");
    command->add_option("--diagnostics", args->diagnostics, "How diagnostics are printed")
        ->check(CLI::IsMember({"text", "json"}));
    return [args]() {
        bool clean = true;
        nlohmann::json all = nlohmann::json::array();
        compiler::RenderOptions render{use_color_on_stderr()};
        for (const std::string& file : args->files) {
            compiler::CompileOptions options;
            options.sets = args->sets;
            options.build_plan = false;
            options.machine = this_machine;
            options.compute = args->compute;
            auto result = compiler::compile_file(file, options);
            clean = clean && result->ok();
            if (args->diagnostics == "json") {
                for (auto& d : nlohmann::json::parse(compiler::render_json(result->diagnostics))) all.push_back(d);
            } else {
                std::cerr << compiler::render_text(result->diagnostics, render);
            }
            // The process ends soon: freeing a large program's trees would only cost time.
            result.release();
        }
        if (args->diagnostics == "json") std::cout << all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return clean ? 0 : 1;
    };
}

}  // namespace amlflow::cli
