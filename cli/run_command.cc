// `amlflow run FILE`: check the file, build its plan, and execute it on this machine.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "compiler/compile.h"
#include "compiler/sha256.h"
#include "runtime/executor.h"
#include "runtime/job_launch.h"
#include "runtime/local_backend.h"
#include "runtime/process.h"
#include "runtime/terminal_sink.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

struct RunArgs {
    std::string file;
    std::vector<std::string> sets;
    std::vector<std::string> steps;
    bool dry_run = false;
};

// --dry-run: every process each job would start, with its command line and the
// variables amlflow sets, and nothing started or recorded.
int dry_run(const RunPlan& plan, const std::map<std::string, std::string>& base) {
    for (const StepPlan& step : plan.steps) {
        if (step.kind != "job") {
            std::cout << step.name << " (" << step.kind << ")\n";
            continue;
        }
        AttemptRequest request;
        request.step = &step;
        request.plan_folder = "<folder of the file>";
        request.environment = plan.environment_of(step);
        request.compute = plan.compute_of(step);
        int restarts = RetryPolicy::from_spec(step.spec).max_restarts();
        request.context = {"<run>", step.name, 0, restarts, "127.0.0.1", 29500, "<outputs>", "<checkpoints>", "<logs>",
                           "<metrics>", {}};
        for (const std::string& need : step.needs) {
            std::string name = need.substr(need.find(':') + 1);
            request.results[name] = {{"outputs", "<" + name + ".outputs>"}, {"logs", "<" + name + ".logs>"}};
        }
        std::string error;
        auto launches = plan_processes(request, base, &error);
        std::cout << step.name << " (job)\n";
        if (!launches) {
            std::cout << "  cannot run here: " << error << "\n";
            continue;
        }
        for (const ProcessLaunch& launch : *launches) {
            std::cout << "  [" << launch.label << "]";
            for (const std::string& arg : launch.argv) std::cout << " " << nlohmann::json(arg).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            std::cout << "\n   ";
            for (const auto& [key, value] : launch.env) {
                auto inherited = base.find(key);
                if (inherited == base.end() || inherited->second != value) std::cout << " " << key << "=" << value;
            }
            std::cout << "\n";
        }
    }
    return 0;
}

int execute(const RunArgs& args, const compiler::Plan& compiled) {
    nlohmann::json plan_json = compiler::plan_to_json(compiled);
    std::string error;
    auto plan = load_plan(plan_json, &error);
    if (!plan) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    for (const std::string& step : args.steps) {
        if (!plan->find(step)) {
            std::cerr << "amlflow: error: --step '" << step << "': no such step in " << args.file << "\n";
            return 64;
        }
    }
    std::map<std::string, std::string> base = EnvironmentBuilder::current_process_environment();
    if (args.dry_run) return dry_run(*plan, base);

    // The loop first, before anything could start a thread: it owns the signal mask.
    EventLoop loop;
    std::signal(SIGPIPE, SIG_IGN);  // `amlflow run | head` must not kill the supervisor
    fs::path store_folder = default_store_folder(args.file);
    auto store = RunStore::open(store_folder, &error);
    if (!store) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    NewRun record;
    record.file = fs::absolute(args.file).lexically_normal().string();
    record.plan_json = plan_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    record.plan_hash = compiler::sha256_hex(record.plan_json);
    record.params_json = plan_json["params"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    record.sets = args.sets;
    auto run_id = store->create_run(record);
    if (!run_id) {
        std::cerr << "amlflow: error: " << store->last_error() << "\n";
        return 1;
    }
    TerminalSink sink(STDOUT_FILENO);
    std::unique_ptr<LiveBoard> board;
    if (LiveBoard::wanted()) {
        std::vector<std::string> names;
        for (const StepPlan& step : plan->steps) names.push_back(step.name);
        board = std::make_unique<LiveBoard>(loop, sink, names);
    }
    LocalBackendOptions options;
    options.launcher = launcher_beside_executable();
    options.base_env = base;
    LocalBackend backend(loop, options, board ? static_cast<LineSink*>(board.get()) : &sink);
    RunReporter reporter(STDERR_FILENO);
    reporter.set_board(board.get());
    ExecutorOptions executor_options;
    executor_options.plan_folder = fs::path(args.file).parent_path();
    if (executor_options.plan_folder.empty()) executor_options.plan_folder = ".";
    executor_options.only = args.steps;
    const char* home = std::getenv("AMLFLOW_HOME");
    if (!(home && *home) && store_folder != fs::path(".amlflow") && fs::path(args.file).parent_path() != "") {
        executor_options.store_hint = " --file " + args.file;
    }
    executor_options.cpu_slots = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    executor_options.gpus = discover_gpus();
    Executor executor(loop, *store, backend, *plan, executor_options, reporter);
    reporter.run_started(*run_id, args.file, store_folder.string(), plan->steps.size());
    if (board) board->flush();
    int code = executor.run(*run_id);
    if (board) board->close();
    reporter.set_board(nullptr);
    sink.flush();
    return code;
}

}  // namespace

Runner add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* command = app.add_subcommand("run", "Check a file, plan it and run it on this machine");
    command->add_option("file", args->file, "The .amlflow file")->required()->check(CLI::ExistingFile);
    command->add_option("--set", args->sets, "Set a param: --set epochs=3 (repeatable)")->allow_extra_args(false);
    command->add_option("--step", args->steps, "Run only this step and the steps it needs (repeatable)")
        ->allow_extra_args(false);
    command->add_flag("--dry-run", args->dry_run, "Show the processes each job would start; start none");
    return [args]() {
        compiler::CompileOptions options;
        options.sets = args->sets;
        auto result = compiler::compile_file(args->file, options);
        std::cerr << compiler::render_text(result->diagnostics, {use_color_on_stderr()});
        if (!result->plan) return 1;
        return execute(*args, *result->plan);
    };
}

}  // namespace amlflow::cli
