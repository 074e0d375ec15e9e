// `amlflow plan FILE`: the plan graph the runtime would execute, in one of four forms; or,
// with `--format azureml`, each step that runs on Azure ML as the Azure ML CLI's job YAML.
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "compiler/compile.h"
#include "runtime/azureml/plan_cli_jobs.h"
#include "runtime/exec/cache_lookup.h"
#include "runtime/store/run_store.h"

namespace amlflow::cli {

namespace {

struct PlanArgs {
    std::string file;
    std::vector<std::string> sets;
    std::string compute;
    std::string format = "text";
    std::string diagnostics = "text";
    std::string output;
};

// With a run store where `run` would keep this file's runs: which steps a run now would
// reuse from the cache (cache_lookup.h), as the text form's last section. Nothing is
// written; without a store there is nothing to say.
std::string cache_section(const compiler::Plan& compiled, const std::string& file) {
    namespace fs = std::filesystem;
    fs::path folder = runtime::default_store_folder(file);
    std::string error;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return "";
    auto store = runtime::RunStore::open(folder, &error, runtime::OpenMode::MustExist);
    auto plan = store ? runtime::load_plan(compiler::plan_to_json(compiled), &error) : std::nullopt;
    if (!plan) return "";
    fs::path plan_folder = fs::path(file).parent_path();
    if (plan_folder.empty()) plan_folder = ".";  // as `run` starts the plan's paths
    std::map<std::string, std::string> reused = runtime::preview_cache(*plan, *store, plan_folder);
    std::string out = "\ncache (" + folder.string() + "): " + std::to_string(reused.size()) + " of " +
                      std::to_string(plan->steps.size()) + " steps would be reused\n";
    for (const runtime::StepPlan& step : plan->steps) {
        auto found = reused.find(step.name);
        out += "  " + step.name + ": " + (found != reused.end() ? "reused from run " + found->second : "runs") + "\n";
    }
    return out;
}

// The remote steps as Azure ML CLI job YAML (azureml/plan_cli_jobs.h), their paths relative
// to where the YAML goes; nullopt once it said why not.
std::optional<std::string> azureml_section(const compiler::Plan& compiled, const PlanArgs& args) {
    namespace fs = std::filesystem;
    std::string error;
    auto plan = runtime::load_plan(compiler::plan_to_json(compiled), &error);
    if (!plan) {
        std::cerr << "amlflow: error: " << error << "\n";
        return std::nullopt;
    }
    std::error_code ec;
    runtime::azureml::CliJobsOptions options;
    options.plan_folder = fs::absolute(fs::path(args.file).parent_path(), ec).lexically_normal().string();
    fs::path written_in = fs::path(args.output).parent_path();  // "" for standard output or a bare name
    options.relative_to = fs::absolute(written_in.empty() ? fs::path(".") : written_in, ec).lexically_normal().string();
    while (options.relative_to.size() > 1 && options.relative_to.back() == '/') options.relative_to.pop_back();
    options.store_folder = fs::absolute(runtime::default_store_folder(args.file), ec).lexically_normal().string();
    options.python_lib = (fs::path(options.store_folder) / "lib" / "python").string();  // as `run` installs it
    auto text = runtime::azureml::plan_as_cli_jobs(*plan, options, &error);
    if (!text && error.empty()) {
        std::cerr << "amlflow: error: no step of '" << args.file << "' runs on an amlcompute compute, so there is no "
                  << "Azure ML job to print" << (args.compute.empty() ? " (--compute NAME places every job on one)" : "")
                  << "\n";
    } else if (!text) {
        std::cerr << "amlflow: error: " << error << "\n";
    }
    return text;
}

}  // namespace

Runner add_plan_command(CLI::App& app) {
    auto args = std::make_shared<PlanArgs>();
    CLI::App* command = app.add_subcommand("plan", "Check a file and print the plan graph it runs as");
    command->add_option("file", args->file, "The .amlflow file")->required()->check(CLI::ExistingFile);
    command->add_option("--set", args->sets, "Set a param: --set epochs=3 (repeatable)")->allow_extra_args(false);
    command->add_option("--compute", args->compute,
                        "Plan every job on this compute (one the file declares), as `run --compute` runs it");
    command->add_option("--format", args->format,
                        "text, json (the runtime's contract), dot (Graphviz), mermaid, or azureml (each Azure ML "
                        "step as the job YAML of `az ml job create -f`)")
        ->check(CLI::IsMember({"text", "json", "dot", "mermaid", "azureml"}));
    command->add_option("--diagnostics", args->diagnostics, "How diagnostics are printed")
        ->check(CLI::IsMember({"text", "json"}));
    command->add_option("-o,--output", args->output, "Write the plan to this file instead of standard output");
    return [args]() {
        compiler::CompileOptions options;
        options.sets = args->sets;
        options.machine = this_machine;
        options.compute = args->compute;
        auto result = compiler::compile_file(args->file, options);
        // Standard output carries the plan; diagnostics, warnings included, go to stderr.
        if (args->diagnostics == "json") {
            std::cerr << compiler::render_json(result->diagnostics);
        } else {
            std::cerr << compiler::render_text(result->diagnostics, {use_color_on_stderr()});
        }
        // The process ends next: freeing a large program's trees would only cost time.
        compiler::CompileResult* kept = result.release();
        if (!kept->plan) return 1;
        const compiler::Plan& plan = *kept->plan;
        std::optional<std::string> remote = args->format == "azureml" ? azureml_section(plan, *args) : std::nullopt;
        if (args->format == "azureml" && !remote) return 1;
        std::ofstream file;
        if (!args->output.empty()) file.open(args->output);
        std::ostream& out = args->output.empty() ? std::cout : file;
        // Text and JSON are written as they are rendered: a large plan's is never held whole.
        if (args->format == "text") {
            compiler::write_plan_text(plan, out);
            out << cache_section(plan, args->file);
        } else if (args->format == "json") {
            compiler::write_plan_json(plan, out);
            out << "\n";
        } else {
            out << (remote ? *remote : args->format == "dot" ? compiler::plan_to_dot(plan) : compiler::plan_to_mermaid(plan));
        }
        out.flush();
        if (!out) {
            std::cerr << "amlflow: error: cannot write '" << (args->output.empty() ? "standard output" : args->output) << "'\n";
            return 1;
        }
        return 0;
    };
}

}  // namespace amlflow::cli
