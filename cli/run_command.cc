// `amlflow run FILE`: check the file, build its plan, and execute it on this machine.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <set>

#include "cli/azureml_run.h"
#include "cli/commands.h"
#include "cli/detach.h"
#include "cli/dry_run.h"
#include "compiler/compile.h"
#include "compiler/sha256.h"
#include "compiler/suggest.h"
#include "runtime/exec/executor.h"
#include "runtime/core/backend_router.h"
#include "runtime/core/job_launch.h"
#include "runtime/azureml/azureml_backend.h"
#include "runtime/hosts/hosts_backend.h"
#include "runtime/local/local_backend.h"
#include "runtime/local/run_reaper.h"
#include "runtime/core/process.h"
#include "runtime/core/python_lib.h"
#include "runtime/store/run_liveness.h"
#include "runtime/store/run_lock.h"
#include "cli/store_option.h"
#include "runtime/report/terminal_sink.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

struct RunArgs {
    std::string file;
    std::vector<std::string> sets;
    std::string compute;  // --compute NAME: every job runs there
    std::vector<std::string> steps;
    std::vector<std::string> force_steps;
    bool force = false;
    bool dry_run = false;
    bool recheck_env = false;  // check environments' packages again (environment_stamp.h)
    std::string resume;  // a run id (or prefix) to continue
    std::string store;   // with --resume: the store holding it
    std::vector<std::string> rerun_steps;  // with --resume: --force-step given now
    bool detach = false;   // --detach: run in the background (detach.h)
    int driver_fd = -1;    // the hidden --driver-fd: this process is that background run
};

// The steps --step selects and, transitively, what they need (what the executor runs).
std::set<std::string> needed_steps(const RunPlan& plan, const std::vector<std::string>& names) {
    std::set<std::string> needed;
    std::vector<std::string> pending = names;
    while (!pending.empty()) {
        const StepPlan* step = plan.find(pending.back());
        pending.pop_back();
        if (!step || !needed.insert(step->name).second) continue;
        for (const std::string& need : step->needs) pending.push_back(need.substr(need.find(':') + 1));
    }
    return needed;
}

// Whether the steps the run will run include one on Azure ML (a detached run's foreground
// then waits for its first job: detach.h).
bool runs_remotely(const RunPlan& plan, const std::vector<std::string>& only) {
    std::set<std::string> needed = needed_steps(plan, only);
    for (const StepPlan& step : plan.steps) {
        if ((only.empty() || needed.count(step.name)) && plan.compute_of(step).value("$kind", "local") == "amlcompute") {
            return true;
        }
    }
    return false;
}

// What the run records so that --resume runs the same way: the flags that keep the cache
// away. (--step is kept by the steps the run recorded.)
std::string options_json(bool force, const std::vector<std::string>& force_steps) {
    std::set<std::string> sorted(force_steps.begin(), force_steps.end());
    return nlohmann::json({{"force", force}, {"force_steps", sorted}}).dump(-1, ' ', false,
                                                                             nlohmann::json::error_handler_t::replace);
}

// The run's reaper (run_reaper.h), and its mark in `base`, which every process the backend
// starts inherits. Without the reaper the ranks still die with amlflow (parent-death
// signal); only what they start could outlive a killed amlflow, so that is a warning.
void start_reaper(RunReaper& reaper, std::map<std::string, std::string>& base) {
    std::string program = helper_beside_executable("amlflow-reaper"), error;
    if (program.empty()) error = "no amlflow-reaper beside amlflow";
    if (error.empty() && reaper.start(program, &error)) {
        base[RunReaper::kVariable] = reaper.token();
        return;
    }
    std::cerr << "amlflow: warning: " << error << ": what the ranks start may outlive a killed amlflow\n";
}

// Runs `plan` as run `run_id` of `store` (new, with its lock already taken, or resumed),
// with the board, the local backend and the executor wired together.
int execute_plan(const RunArgs& args, const RunPlan& plan, RunStore& store, const std::string& run_id,
                 const fs::path& plan_folder, const std::string& shown_file, EventLoop& loop,
                 std::optional<RunLock> lock = std::nullopt) {
    std::string error;
    bool held = false;
    if (!lock) lock = RunLock::acquire(store.run_folder(run_id), &error, &held);
    if (!lock) {
        // Busy, not wrong: its own exit code, and who holds it.
        pid_t holder = held ? RunLock::holder(store.run_folder(run_id)) : 0;
        if (holder > 0) error = "another amlflow (pid " + std::to_string(holder) + ") is running it";
        std::cerr << "amlflow: error: cannot run '" << run_id << "': " << error << "\n";
        if (held) {
            std::cerr << "help: wait for it to end, or stop it (Ctrl-C in its terminal"
                      << (holder > 0 ? ", or kill -INT " + std::to_string(holder) : std::string()) << ")\n";
        }
        return held ? kExitRunBusy : 1;
    }
    // A resumed run's options are recorded only once it is ours: a resume refused as busy
    // must not change the live run's record.
    bool recorded = args.resume.empty() ||
                    (store.set_run_options(run_id, options_json(args.force, args.force_steps)) &&
                     store.set_run_state(run_id, RunState::Running));
    if (!recorded) {
        std::cerr << "amlflow: error: " << store.last_error() << "\n";
        return 1;
    }
    DriverChannel* driver = DriverChannel::current();
    if (driver) driver->run_started(run_id, store.run_folder(run_id), runs_remotely(plan, args.steps));
    auto python_lib = install_python_lib(store.folder(), &error);
    if (!python_lib) {
        std::cerr << "amlflow: error: " << error << "\n";
        // Nothing ran: a failed run, not an interrupted one that --resume could continue.
        store.set_run_state(run_id, RunState::Failed, 1);
        return 1;
    }
    std::map<std::string, std::string> base = EnvironmentBuilder::current_process_environment();
    // Declared before the backend, so it ends after it: then it sweeps what is left.
    RunReaper reaper;
    start_reaper(reaper, base);
    TerminalSink sink(STDOUT_FILENO);
    std::unique_ptr<LiveBoard> board;
    if (LiveBoard::wanted()) {
        std::vector<std::string> names;
        for (const StepPlan& step : plan.steps) names.push_back(step.name);
        board = std::make_unique<LiveBoard>(loop, sink, names);
    }
    LocalBackendOptions options;
    options.launcher = launcher_beside_executable();
    options.shim = helper_beside_executable("amlflow-rank");
    options.base_env = base;
    LineSink* output = board ? static_cast<LineSink*>(board.get()) : &sink;
    LocalBackend local(loop, options, output);
    HostsBackendOptions hosts_options;
    hosts_options.launcher = options.launcher;
    hosts_options.shim = options.shim;
    hosts_options.base_env = base;
    hosts_options.run_store_folder = store.folder().string();
    hosts_options.cache_folder = (store.folder() / "hosts").string();
    HostsBackend hosts(loop, hosts_options, output);
    BackendRouter backend([&plan](const StepPlan& step) { return plan.compute_of(step).value("$kind", "local"); });
    backend.add("local", &local);
    backend.add("hosts", &hosts);
    auto azure_options = azureml_run_options(plan, store, run_id, !args.resume.empty(), python_lib->string());
    if (driver) {  // the foreground of a detached run waits for the first job's name
        azure_options.job_recorded = [driver, record = azure_options.job_recorded](const azureml::RemoteJobEvent& event) {
            record(event);
            if (event.state == "submitted") driver->job_submitted(event.step, event.job, event.studio);
        };
    }
    azureml::AzureMlBackend azure(loop, std::move(azure_options), output);
    backend.add("amlcompute", &azure);
    RunReporter reporter(STDERR_FILENO);
    reporter.set_board(board.get());
    ExecutorOptions executor_options;
    executor_options.plan_folder = plan_folder.empty() ? fs::path(".") : plan_folder;
    executor_options.only = args.steps;
    executor_options.force = args.force;
    executor_options.force_steps.insert(args.force_steps.begin(), args.force_steps.end());
    executor_options.resume = !args.resume.empty();
    executor_options.rerun_steps.insert(args.rerun_steps.begin(), args.rerun_steps.end());
    executor_options.python_lib = python_lib->string();
    executor_options.recheck_environments = args.recheck_env;
    const char* home = std::getenv("AMLFLOW_HOME");
    if (!(home && *home) && store.folder() != fs::absolute(".amlflow").lexically_normal() && !shown_file.empty()) {
        executor_options.store_hint = " --file " + shown_file;
    }
    executor_options.cpu_slots = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    executor_options.gpus = discover_gpus();
    Executor executor(loop, store, backend, plan, executor_options, reporter);
    reporter.run_started(run_id, shown_file, store.folder().string(), plan.steps.size());
    if (board) board->flush();
    int code = 2;
    try {
        code = executor.run(run_id);
    } catch (const std::exception& e) {
        // A bug, not the user's: say so plainly, and leave the run failed, not running.
        std::cerr << "amlflow: internal error: " << e.what() << "\n";
        store.set_run_state(run_id, RunState::Failed, 2);
        backend.stop_all("internal error", true);
    }
    if (board) board->close();
    reporter.set_board(nullptr);
    sink.flush();
    return settle_uncanceled_jobs(azure, store, run_id, code);
}

bool check_steps(const RunArgs& args, const RunPlan& plan, const std::string& file) {
    for (const auto* names : {&args.steps, &args.force_steps}) {
        for (const std::string& step : *names) {
            if (!plan.find(step)) {
                std::cerr << "amlflow: error: '" << step << "': no such step in " << file << "\n";
                std::vector<std::string> names;
                for (const StepPlan& known : plan.steps) names.push_back(known.name);
                if (auto near = compiler::closest_name(step, names)) {
                    std::cerr << "help: did you mean '" << *near << "'?\n";
                } else {
                    std::string all;
                    for (const std::string& name : names) all += (all.empty() ? "'" : ", '") + name + "'";
                    if (!all.empty()) std::cerr << "note: its steps are " << all << "\n";
                }
                return false;
            }
        }
    }
    return true;
}

// The runtime's plan of the compiled file, its --step names checked; nullopt with the exit code.
std::optional<RunPlan> checked_plan(const RunArgs& args, const nlohmann::json& plan_json, int* code) {
    std::string error;
    auto plan = load_plan(plan_json, &error);
    if (!plan) std::cerr << "amlflow: error: " << error << "\n";
    if (plan && check_steps(args, *plan, args.file)) return plan;
    *code = plan ? 64 : 1;
    return std::nullopt;
}

int execute(const RunArgs& args, const compiler::Plan& compiled) {
    nlohmann::json plan_json = compiler::plan_to_json(compiled);
    int code = 0;
    auto plan = checked_plan(args, plan_json, &code);
    if (!plan) return code;
    std::string error;
    if (args.dry_run) {
        return dry_run(*plan, EnvironmentBuilder::current_process_environment(), {needed_steps(*plan, args.steps), {}});
    }

    // The loop first, before anything could start a thread: it owns the signal mask.
    EventLoop loop;
    std::signal(SIGPIPE, SIG_IGN);  // `amlflow run | head` must not kill the supervisor
    fs::path store_folder = default_store_folder(args.file);
    auto store = RunStore::open(store_folder, &error);
    if (!store) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    settle_abandoned_runs(*store);
    NewRun record;
    record.file = fs::absolute(args.file).lexically_normal().string();
    record.plan_json = plan_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    record.plan_hash = compiler::sha256_hex(record.plan_json);
    record.params_json = plan_json["params"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    record.sets = args.sets;
    record.options_json = options_json(args.force, args.force_steps);
    std::optional<RunLock> lock;
    auto run_id = store->create_run(record, &lock);
    if (!run_id) {
        std::cerr << "amlflow: error: " << store->last_error() << "\n";
        return 1;
    }
    return execute_plan(args, *plan, *store, *run_id, fs::path(args.file).parent_path(), args.file, loop,
                        std::move(lock));
}

// The arguments a resumed run runs with: the steps it recorded (a run started with
// --step recorded only those), and its own --force and --force-step, which still hold
// (what they kept from the cache stays away), with those given now; a --force-step
// given now also runs that step again if the run completed it.
RunArgs resumed_args(const RunArgs& args, const RunPlan& plan, const RunRecord& run, RunStore& store) {
    RunArgs resumed = args;
    if (auto recorded = store.steps_of(run.id); recorded && resumed.steps.empty()) {
        std::vector<std::string> names;
        for (const StepRecord& step : *recorded) {
            if (plan.find(step.name)) names.push_back(step.name);  // not a sweep's trials
        }
        if (names.size() < plan.steps.size()) resumed.steps = names;
    }
    auto recorded_options = nlohmann::json::parse(run.options_json, nullptr, false);
    if (recorded_options.is_object()) {
        resumed.force = resumed.force || recorded_options.value("force", false);
        for (const auto& name : recorded_options.value("force_steps", nlohmann::json::array())) {
            if (name.is_string()) resumed.force_steps.push_back(name.get<std::string>());
        }
    }
    resumed.rerun_steps = args.force_steps;
    return resumed;
}

// --resume --dry-run: what the resumed run would still run; its completed steps kept.
int dry_run_resume(const RunArgs& args, const RunArgs& resumed, const RunPlan& plan, const RunRecord& run,
                   RunStore& store) {
    std::set<std::string> kept;
    if (auto recorded = store.steps_of(run.id)) {
        for (const StepRecord& step : *recorded) {
            bool done = step.state == StepState::Succeeded || step.state == StepState::Cached;
            if (done && !std::count(args.force_steps.begin(), args.force_steps.end(), step.name)) kept.insert(step.name);
        }
    }
    std::cout << "resuming run " << run.id << " of " << run.file << "\n";
    return dry_run(plan, EnvironmentBuilder::current_process_environment(), {needed_steps(plan, resumed.steps), kept});
}

// --resume RUN: the run's own plan, as it was recorded (not the file as it is now), its
// completed steps kept and the rest run again.
int resume(const RunArgs& args) {
    EventLoop loop;
    std::signal(SIGPIPE, SIG_IGN);
    StoreOption where;
    where.store = args.store;
    where.file = args.file;
    auto store = where.open();
    if (!store) return 1;
    auto run = StoreOption::find_run(*store, args.resume);
    if (!run) return 1;
    std::string error;
    nlohmann::json plan_json = nlohmann::json::parse(run->plan_json, nullptr, false);
    auto plan = plan_json.is_discarded() ? std::nullopt : load_plan(plan_json, &error);
    if (!plan) {
        std::cerr << "amlflow: error: the plan recorded for run '" << run->id << "' cannot be read: " << error << "\n";
        return 1;
    }
    if (!check_steps(args, *plan, run->file)) return 64;
    if (run->state == RunState::Succeeded) {
        std::cerr << "amlflow: run '" << run->id << "' already succeeded; nothing to resume\n";
        return 0;
    }
    RunArgs resumed = resumed_args(args, *plan, *run, *store);
    if (args.dry_run) return dry_run_resume(args, resumed, *plan, *run, *store);
    std::cerr << "amlflow: resuming run " << run->id << " of " << run->file << "\n";
    return execute_plan(resumed, *plan, *store, run->id, fs::path(run->file).parent_path(), run->file, loop);
}

// The command line of a detached run's driver: this one's, less --detach (detach.h).
std::vector<std::string> driver_args(const RunArgs& args) {
    std::vector<std::string> out = {"run"};
    if (!args.file.empty()) out.push_back(args.file);
    auto add = [&out](const char* flag, const std::vector<std::string>& values) {
        for (const std::string& value : values) out.insert(out.end(), {flag, value});
    };
    add("--set", args.sets);
    add("--step", args.steps);
    add("--force-step", args.force_steps);
    if (!args.compute.empty()) out.insert(out.end(), {"--compute", args.compute});
    if (!args.resume.empty()) out.insert(out.end(), {"--resume", args.resume});
    if (!args.store.empty()) out.insert(out.end(), {"--store", args.store});
    if (args.force) out.push_back("--force");
    if (args.recheck_env) out.push_back("--recheck-env");
    return out;
}

// What the commands a detached run prints need to find its store from here.
std::string store_hint(const RunArgs& args) {
    if (!args.store.empty()) return " --store " + args.store;
    const char* home = std::getenv("AMLFLOW_HOME");
    if ((home && *home) || args.file.empty()) return "";
    return default_store_folder(args.file) == fs::absolute(".amlflow").lexically_normal() ? "" : " --file " + args.file;
}

}  // namespace

Runner add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* command = app.add_subcommand("run", "Check a file, plan it and run it (where its jobs say, or on --compute NAME)");
    command->add_option("file", args->file, "The .amlflow file")->check(CLI::ExistingFile);
    command->add_option("--set", args->sets, "Set a param: --set epochs=3 (repeatable)")->allow_extra_args(false);
    command->add_option("--compute", args->compute,
                        "Run every job (and sweep trial) on this compute, one the file declares, instead of "
                        "where each job says; results cached on another compute are not reused");
    command->add_option("--step", args->steps, "Run only this step and the steps it needs (repeatable)")
        ->allow_extra_args(false);
    command->add_flag("--force", args->force, "Run every step, reusing nothing from the cache");
    command->add_option("--force-step", args->force_steps, "Run this step even if cached (repeatable)")
        ->allow_extra_args(false);
    command->add_flag("--recheck-env", args->recheck_env,
                      "Ask each environment's interpreter for its packages again, trusting no earlier check");
    command->add_option("--resume", args->resume, "Continue an interrupted run from its unfinished steps");
    command->add_option("--store", args->store, "With --resume: the run store folder");
    CLI::Option* dry_run = command->add_flag("--dry-run", args->dry_run,
                                             "Show the processes each job and each sweep's trials would start; start none");
    command->add_flag("--detach", args->detach,
                      "Check and plan here, then run in the background; print the run id and how to follow, show "
                      "and cancel it (from any terminal)")
        ->excludes(dry_run);
    command->add_option("--driver-fd", args->driver_fd)->group("");  // detach.h: the background run's channel
    return [args]() {
        if (args->driver_fd >= 0) DriverChannel::adopt(args->driver_fd);
        if (!args->resume.empty()) {
            if (!args->sets.empty() || !args->compute.empty()) {
                std::cerr << "amlflow: error: --resume runs the run's recorded plan; "
                          << (args->sets.empty() ? "--compute" : "--set") << " cannot change it\n";
                return 64;
            }
            if (args->detach) return start_detached(driver_args(*args), store_hint(*args));
            return resume(*args);
        }
        if (args->file.empty()) {
            std::cerr << "amlflow: error: run needs a .amlflow file (or --resume RUN)\n";
            return 64;
        }
        compiler::CompileOptions options;
        options.sets = args->sets;
        options.machine = this_machine;
        options.compute = args->compute;
        auto result = compiler::compile_file(args->file, options);
        // A detached run's driver checks the file again; its foreground said the warnings.
        if (args->driver_fd < 0 || !result->plan) {
            std::cerr << compiler::render_text(result->diagnostics, {use_color_on_stderr()});
        }
        if (!result->plan) return 1;
        if (args->detach) {
            int code = 0;
            if (!checked_plan(*args, compiler::plan_to_json(*result->plan), &code)) return code;
            return start_detached(driver_args(*args), store_hint(*args));
        }
        return execute(*args, *result->plan);
    };
}

}  // namespace amlflow::cli
