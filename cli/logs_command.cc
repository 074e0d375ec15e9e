// `amlflow logs ID`: the per-rank logs of a run, by step, rank and attempt; --follow
// keeps printing while the run writes them (inotify, no polling sleeps). Of a detached run
// (its amlflow gone while its jobs run on Azure ML) --follow reads the ranks' logs from the
// service into the run's log files until the jobs end, records how they ended
// (detached_run.h) and exits as they did: 0 completed, 2 otherwise. --driver: the output of
// a detached run's background amlflow (detach.h) instead.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/detached_run.h"
#include "cli/store_option.h"
#include "runtime/store/run_liveness.h"

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

struct LogsArgs {
    StoreOption where;
    std::string id, step;
    int rank = -1, attempt = -1;
    bool follow = false;
    bool driver = false;
};

struct LogFile {
    std::string label;
    fs::path path;
    std::streamoff read = 0;
};

// Whether --step selects `step`: by its name, or, for a sweep's name, each of its trials
// (a sweep starts no process of its own: its trials' logs are its logs).
bool selected(const StepRecord& step, const std::string& wanted) {
    if (wanted.empty() || step.name == wanted) return true;
    return step.kind == "trial" && step.name.size() > wanted.size() && step.name.compare(0, wanted.size(), wanted) == 0 &&
           step.name[wanted.size()] == '[';
}

// The log files the arguments select: the last attempt of each step unless --attempt.
std::vector<LogFile> select_logs(RunStore& store, const RunRecord& run, const LogsArgs& args) {
    std::vector<LogFile> files;
    if (args.driver) {
        fs::path log = store.run_folder(run.id) / "driver.log";
        if (fs::exists(log)) files.push_back({"driver", log, 0});
        return files;
    }
    auto steps = store.steps_of(run.id);
    if (!steps) return files;
    for (const StepRecord& step : *steps) {
        if (!selected(step, args.step)) continue;
        auto attempts = store.attempts_of(run.id, step.name);
        if (!attempts || attempts->empty()) continue;
        for (const AttemptRecord& attempt : *attempts) {
            bool chosen = args.attempt >= 0 ? shown_attempt(attempt.number) == args.attempt : &attempt == &attempts->back();
            if (!chosen) continue;
            auto ranks = store.ranks_of(run.id, step.name, attempt.number);
            if (!ranks) continue;
            for (const RankRecord& rank : *ranks) {
                if (args.rank >= 0 && rank.global_rank != args.rank) continue;
                files.push_back({step.name + " attempt " + std::to_string(shown_attempt(attempt.number)) + " rank " +
                                     std::to_string(rank.global_rank),
                                 rank.log_file, 0});
            }
        }
    }
    return files;
}

// Each file is headed by its label when there are several, or when the one file is not
// the step asked for (a sweep's only trial).
bool wants_headers(const std::vector<LogFile>& files, const LogsArgs& args) {
    return files.size() > 1 || (!args.step.empty() && !files.empty() && files[0].label.rfind(args.step + " ", 0) != 0);
}

// Prints what was added to each file since the last call; true when anything was.
bool print_new(std::vector<LogFile>& files, bool headers) {
    bool any = false;
    for (LogFile& file : files) {
        std::ifstream in(file.path, std::ios::binary);
        if (!in) continue;
        in.seekg(file.read);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (text.empty()) continue;
        if (headers) std::cout << "==> " << file.label << " (" << file.path.string() << ") <==\n";
        std::cout << text;
        file.read += static_cast<std::streamoff>(text.size());
        any = true;
    }
    std::cout.flush();
    return any;
}

// The files a detached run's jobs write, those the arguments select, with what was printed of them.
std::vector<LogFile> remote_files(const DetachedJobs& jobs, const LogsArgs& args, const std::vector<LogFile>& printed) {
    std::vector<LogFile> files;
    for (size_t i = 0; i < jobs.jobs.size(); ++i) {
        const RemoteJob& record = jobs.records[i];
        if (!args.step.empty() && record.step != args.step) continue;
        if (args.attempt >= 0 && shown_attempt(record.attempt) != args.attempt) continue;
        for (size_t rank = 0; rank < jobs.jobs[i].rank_logs.size(); ++rank) {
            if (args.rank >= 0 && static_cast<int>(rank) != args.rank) continue;
            LogFile file{record.step + " attempt " + std::to_string(shown_attempt(record.attempt)) + " rank " +
                             std::to_string(rank),
                         jobs.jobs[i].rank_logs[rank], 0};
            for (const LogFile& old : printed) {
                if (old.path == file.path) file.read = old.read;
            }
            files.push_back(file);
        }
    }
    return files;
}

// A detached run: its jobs followed on the service until they end (exit as they did), or
// until another amlflow resumes the run (-1: follow that one's files again).
int follow_remote(RunStore& store, const RunRecord& run, const LogsArgs& args, std::vector<LogFile>& files) {
    DetachedJobs jobs = detached_jobs(store, run);
    if (!jobs.error.empty()) {
        std::cerr << "amlflow: error: " << jobs.error << "\n";
        return 1;
    }
    if (!jobs.jobs.empty()) {
        std::cerr << "amlflow: run " << run.id << " is detached (the amlflow that ran it is gone); following its "
                  << (jobs.jobs.size() == 1 ? "job on Azure ML" : "jobs on Azure ML") << "\n";
    }
    files = remote_files(jobs, args, files);
    bool headers = wants_headers(files, args);
    azureml::FollowOptions options;
    options.wait = true;
    options.progress = [&files, headers] { print_new(files, headers); };
    options.keep_going = [&store, &run] {
        auto now = store.find_run(run.id);
        return now && now->state == RunState::Detached;
    };
    options.note = [](const std::string& text) { std::cerr << "amlflow: " << text << "\n"; };
    azureml::FollowOutcome outcome;  // none left on the service: the run is only settled
    if (!jobs.jobs.empty()) outcome = azureml::follow_remote_jobs(jobs.jobs, options);
    if (outcome.interrupted) return 130;
    if (outcome.stopped) return -1;
    std::string error;
    auto lock = RunLock::acquire(store.run_folder(run.id), &error);
    if (!lock) {  // taken by a --resume (follow it), or by a `runs show` recording the same end
        poll(nullptr, 0, 1000);
        return -1;
    }
    return record_detached(store, run, jobs, outcome, std::cerr);
}

int follow(RunStore& store, const RunRecord& run, const LogsArgs& args, std::vector<LogFile>& files) {
    int watcher = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (watcher >= 0) inotify_add_watch(watcher, (store.run_folder(run.id)).c_str(), IN_MODIFY | IN_CREATE);
    for (;;) {
        // A run whose interpreter died is settled here (interrupted), so following it ends.
        settle_if_abandoned(store, run.id);
        auto now = store.find_run(run.id);
        if (!now) break;  // removed meanwhile
        if (now->state == RunState::Detached && !args.driver) {
            print_new(files, wants_headers(files, args));
            int code = follow_remote(store, *now, args, files);
            if (code >= 0) {
                if (watcher >= 0) close(watcher);
                return code;
            }
            continue;
        }
        bool running = now->state == RunState::Running;
        files = [&] {
            std::vector<LogFile> fresh = select_logs(store, *now, args);
            for (LogFile& file : fresh) {
                for (const LogFile& old : files) {
                    if (old.path == file.path) file.read = old.read;
                }
            }
            return fresh;
        }();
        print_new(files, wants_headers(files, args));
        if (!running) break;
        // Wake on a write under the run's folder, or once a second to see the run end.
        pollfd ready{watcher, POLLIN, 0};
        if (poll(&ready, watcher >= 0 ? 1 : 0, 1000) > 0) {
            char drain[4096];
            while (read(watcher, drain, sizeof drain) > 0) {
            }
        }
    }
    if (watcher >= 0) close(watcher);
    return 0;
}

}  // namespace

Runner add_logs_command(CLI::App& app) {
    auto args = std::make_shared<LogsArgs>();
    CLI::App* command = app.add_subcommand("logs", "Print a run's per-rank logs");
    command->add_option("id", args->id, "The run id, or a unique prefix of it")->required();
    command->add_option("--step", args->step, "Only this step (a sweep: each of its trials)");
    command->add_option("--rank", args->rank, "Only this rank");
    command->add_option("--attempt", args->attempt, "This attempt (1 is the first; default: the last)");
    command->add_flag("-f,--follow", args->follow,
                      "Keep printing while the run writes (a detached run's: from Azure ML until its jobs end)");
    command->add_flag("--driver", args->driver, "The output of a detached run's background amlflow (run --detach)");
    args->where.add_to(command);
    return [args]() {
        auto store = args->where.open();
        if (!store) return 1;
        auto run = StoreOption::find_run(*store, args->id);
        if (!run) return 1;
        std::vector<LogFile> files = select_logs(*store, *run, *args);
        if (files.empty() && !args->follow) {
            std::cerr << "amlflow: error: no logs match in run " << run->id << "\n";
            return 1;
        }
        if (args->follow) return follow(*store, *run, *args, files);
        print_new(files, wants_headers(files, *args));
        return 0;
    };
}

}  // namespace amlflow::cli
