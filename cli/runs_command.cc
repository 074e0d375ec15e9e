// `amlflow runs list` and `amlflow runs show ID`: what the run store holds.
#include <ctime>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/detached_run.h"
#include "cli/store_option.h"
#include "runtime/store/remote_jobs.h"
#include "cli/table_format.h"
#include "runtime/report/run_reporter.h"
#include "runtime/store/run_liveness.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

void StoreOption::add_to(CLI::App* command) {
    command->add_option("--store", store, "The run store folder (default: $AMLFLOW_HOME, else ./.amlflow)");
    command->add_option("--file", file, "Use the store beside this .amlflow file");
}

fs::path StoreOption::folder() const {
    if (!store.empty()) return store;
    if (const char* home = std::getenv("AMLFLOW_HOME"); home && *home) return home;
    if (!file.empty()) return default_store_folder(file);
    return fs::path(".amlflow");
}

std::optional<RunRecord> StoreOption::find_run(RunStore& store, const std::string& id) {
    auto run = store.find_run(id);
    if (!run) std::cerr << "amlflow: error: " << store.last_error() << "\n";
    return run;
}

std::unique_ptr<RunStore> StoreOption::open() const {
    std::string error;
    auto opened = RunStore::open(folder(), &error, OpenMode::MustExist);
    if (!opened) {
        // The store says what is wrong with it ("no run store at '...'"), once.
        std::cerr << "amlflow: error: " << error << "\n"
                  << "help: runs are kept beside their .amlflow file; pass --file FILE or --store DIR\n";
        return opened;
    }
    // No run stays "running" after its interpreter died: the first command to look says so.
    settle_abandoned_runs(*opened);
    return opened;
}

namespace {

int list_runs(const StoreOption& where, size_t limit) {
    auto store = where.open();
    if (!store) return 1;
    auto runs = store->list_runs(limit);
    if (!runs) {
        std::cerr << "amlflow: error: " << store->last_error() << "\n";
        return 1;
    }
    std::cout << pad("run", 22) << pad("state", 13) << pad("started", 21) << pad("time", 9) << "file\n";
    for (const RunRecord& run : *runs) {
        int64_t took = run.finished_ms ? run.finished_ms - run.created_ms : 0;
        std::cout << pad(run.id, 22) << pad(to_string(run.state), 13) << pad(clock_time(run.created_ms), 21)
                  << pad(took ? format_duration_ms(took) : "-", 9) << run.file << "\n";
    }
    return 0;
}

void show_attempts(RunStore& store, const RunRecord& run, const StepRecord& step) {
    auto attempts = store.attempts_of(run.id, step.name);
    if (!attempts) return;
    for (const AttemptRecord& attempt : *attempts) {
        int64_t took = attempt.finished_ms ? attempt.finished_ms - attempt.started_ms : 0;
        std::cout << "    attempt " << shown_attempt(attempt.number) << ": " << to_string(attempt.state)
                  << (took ? " in " + format_duration_ms(took) : "") << ", MASTER_PORT " << attempt.master_port << "\n";
        if (!attempt.failure_json.empty()) {
            auto failure = nlohmann::json::parse(attempt.failure_json, nullptr, false);
            if (failure.is_object()) std::cout << "      failure: " << failure.value("message", "") << "\n";
        }
        auto ranks = store.ranks_of(run.id, step.name, attempt.number);
        if (!ranks) continue;
        for (const RankRecord& rank : *ranks) {
            // A rank with no recorded end in a run that no longer runs ended with its interpreter.
            std::string end = rank.signal ? "signal " + std::to_string(rank.signal)
                            : rank.exit_code >= 0 ? "exit " + std::to_string(rank.exit_code)
                            : run.state == RunState::Running ? "running"
                            : run.state == RunState::Detached ? "on Azure ML" : "ended with amlflow";
            std::string where = rank.host.empty() ? "" : " on " + rank.host;
            std::cout << "      rank " << rank.global_rank << where << " pid " << rank.pid << ": " << end << "  "
                      << rank.log_file.string() << "\n";
        }
    }
}

// What a step produced, in one line: a job's outputs folder, a sweep's best trial, a
// model version, an ONNX file, a download's destination.
std::string result_line(const StepRecord& step) {
    auto result = nlohmann::json::parse(step.result_json.empty() ? "{}" : step.result_json, nullptr, false);
    if (!result.is_object()) result = nlohmann::json::object();
    if (result.contains("error") && result["error"].is_string()) return "failed: " + result["error"].get<std::string>();
    const auto& results = result.value("results", nlohmann::json::object());
    auto text = [&](const char* key) { return results.contains(key) && results[key].is_string() ? results[key].get<std::string>() : ""; };
    if (step.kind == "sweep" && result.contains("best")) {
        const auto& objective = result.value("objective", nlohmann::json::object());
        return "best trial: " + result.value("best", "") + " (" + objective.value("metric", "") + " = " +
               objective.value("value", nlohmann::json()).dump() + ")";
    }
    if (step.kind == "register" && result.contains("model")) {
        const auto& model = result["model"];
        return "model: " + model.value("name", "") + " version " + model.value("version", nlohmann::json()).dump() +
               (model.value("existing", false) ? " (identical content was already registered)" : "");
    }
    if (step.kind == "download" && !text("to").empty()) return "downloaded to: " + text("to");
    if (step.kind == "export" && !text("file").empty()) return "onnx: " + text("file");
    if (step.kind == "sweep" || step.kind == "register" || step.kind == "download") return "";
    return "outputs: " + step.outputs.string();
}

// Where the run's plan placed each job and sweep: "wide (local)", by step name (as the
// file said, or as `run --compute` chose). A trial runs where its sweep does.
std::map<std::string, std::string> placements(const std::string& plan_json) {
    std::map<std::string, std::string> placed;
    auto plan = nlohmann::json::parse(plan_json, nullptr, false);
    if (!plan.is_object() || !plan.contains("nodes") || !plan["nodes"].is_array()) return placed;
    const nlohmann::json computes = plan.value("computes", nlohmann::json::object());
    for (const auto& node : plan["nodes"]) {
        if (!node.is_object() || !node.contains("spec") || !node["spec"].is_object()) continue;
        std::string id = node["spec"].value("$compute", "");
        if (id.empty()) continue;
        std::string kind = computes.contains(id) && computes[id].is_object() ? computes[id].value("$kind", "") : "";
        std::string shown = id.substr(id.find(':') + 1);
        if (shown == "(local)") shown = "this machine";  // the built-in compute
        shown += kind.empty() ? "" : " (" + kind + ")";
        std::string name = node.value("name", "");
        placed[name] = shown;
    }
    return placed;
}

int show_run(const StoreOption& where, const std::string& id) {
    auto store = where.open();
    if (!store) return 1;
    auto run = StoreOption::find_run(*store, id);
    if (!run) return 1;
    if (run->state == RunState::Detached) {
        // Its amlflow is gone: what happened on the service meanwhile comes into the store first.
        catch_up_detached(*store, *run, std::cout);
        run = StoreOption::find_run(*store, run->id);
        if (!run) return 1;
    }
    std::cout << "run " << run->id << ": " << to_string(run->state);
    if (run->exit_code >= 0) std::cout << " (exit " << run->exit_code << ")";
    if (run->state == RunState::Interrupted) {
        std::cout << " (amlflow ended before the run did; amlflow run --resume " << run->id << " continues it)";
    } else if (run->state == RunState::Detached) {
        std::cout << " (amlflow ended; the remote job '" << run->remote_job << "' goes on: amlflow run --resume " << run->id
                  << " follows it, amlflow cancel " << run->id << " cancels it)";
    } else if (run->state == RunState::Running && run->supervisor_pid > 0) {
        std::cout << " (amlflow pid " << run->supervisor_pid << ")";
    }
    std::cout << "\n  file: " << run->file << "\n  started: " << clock_time(run->created_ms)
              << "\n  finished: " << clock_time(run->finished_ms) << "\n  params: " << run->params_json << "\n";
    for (const std::string& set : run->sets) std::cout << "  --set " << set << "\n";
    // Its Azure ML jobs, with their pages in the studio.
    for (const RemoteJob& job : read_remote_jobs(store->run_folder(run->id))) {
        std::cout << "  azure ml job: " << job.job << " (" << job.step << ", attempt " << job.attempt + 1 << ", "
                  << job.state << ")" << (job.studio.empty() ? "" : "\n    studio: " + job.studio) << "\n";
        if (!job.states.empty()) std::cout << "    states: " << state_times_text(job.states) << "\n";
    }
    // The flags `--resume` honours, as they were given.
    auto options = nlohmann::json::parse(run->options_json, nullptr, false);
    if (options.is_object() && options.value("force", false)) std::cout << "  --force\n";
    for (const auto& name : options.is_object() ? options.value("force_steps", nlohmann::json::array()) : nlohmann::json::array()) {
        if (name.is_string()) std::cout << "  --force-step " << name.get<std::string>() << "\n";
    }
    auto steps = store->steps_of(run->id);
    if (!steps) return 1;
    std::map<std::string, std::string> placed = placements(run->plan_json);
    for (const StepRecord& step : *steps) {
        std::cout << "  step " << step.name << " (" << step.kind << "): " << to_string(step.state) << ", "
                  << step.attempts << " attempt" << (step.attempts == 1 ? "" : "s") << "\n";
        std::string owner = step.name.substr(0, step.name.find('['));  // a trial: its sweep
        if (placed.count(owner)) std::cout << "    compute: " << placed[owner] << "\n";
        std::string result = result_line(step);
        if (!result.empty()) std::cout << "    " << result << "\n";
        if (!step.cached_from.empty()) std::cout << "    cached: reused from run " << step.cached_from << "\n";
        show_attempts(*store, *run, step);
    }
    return 0;
}

}  // namespace

Runner add_runs_command(CLI::App& app) {
    auto where = std::make_shared<StoreOption>();
    auto id = std::make_shared<std::string>();
    auto limit = std::make_shared<size_t>(20);
    CLI::App* runs = app.add_subcommand("runs", "List and show recorded runs");
    runs->require_subcommand(1);
    CLI::App* list = runs->add_subcommand("list", "The most recent runs, newest first");
    where->add_to(list);
    list->add_option("-n,--limit", *limit, "How many runs (0: all)");
    CLI::App* show = runs->add_subcommand("show", "A run's steps, attempts and ranks");
    show->add_option("id", *id, "The run id, or a unique prefix of it")->required();
    where->add_to(show);
    auto ids = std::make_shared<std::vector<std::string>>();
    auto dry_run = std::make_shared<bool>(false);
    CLI::App* rm = runs->add_subcommand("rm", "Remove runs and free their folders (never a running one)");
    rm->add_option("id", *ids, "Run ids, or unique prefixes")->required();
    rm->add_flag("--dry-run", *dry_run, "Say what would be removed and kept; remove nothing");
    where->add_to(rm);
    return [where, id, limit, list, rm, ids, dry_run]() {
        if (rm->parsed()) return remove_runs_command(*where, *ids, *dry_run);
        return list->parsed() ? list_runs(*where, *limit) : show_run(*where, *id);
    };
}

}  // namespace amlflow::cli
