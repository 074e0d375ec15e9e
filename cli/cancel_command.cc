// `amlflow cancel ID`: stop a live run from another terminal, the way Ctrl-C in its own
// terminal would: its interpreter gets SIGTERM (handled exactly as SIGINT: every rank gets
// SIGTERM, then SIGKILL after the grace period), records the run canceled and exits 130.
//
// The interpreter is found without trusting a pid alone: the store records the run's
// supervisor, the kernel's lock table says which process holds the run's lock, and only
// when the two agree is the process signalled, through a pidfd opened while the lock is
// seen held, so a pid reused in between is never hit (run_liveness.h).
//
// A detached run (its amlflow died, or its Ctrl-C could not reach the service, while its
// job ran on Azure ML) has no interpreter to signal: its jobs still running are canceled on
// the service itself (azureml/remote_cancel.h), and the run is recorded canceled.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "cli/store_option.h"
#include "cli/detached_run.h"
#include "runtime/azureml/remote_cancel.h"
#include "runtime/core/plan_model.h"
#include "runtime/store/remote_jobs.h"
#include "runtime/store/run_liveness.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace amlflow::cli {

namespace fs = std::filesystem;
using namespace amlflow::runtime;

namespace {

struct CancelArgs {
    StoreOption where;
    std::string id;
    double wait_s = 60;
};

// SIGTERM to `pid` while it still holds the run's lock. Returns a pidfd to wait on (or -1
// where the kernel has none: then the signal went by pid), or -2 when it is gone.
int signal_supervisor(pid_t pid, const std::filesystem::path& run_folder) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0 && errno != ENOSYS) return -2;
    if (RunLock::holder(run_folder) != pid) {  // it ended before the pidfd was opened
        if (pidfd >= 0) close(pidfd);
        return -2;
    }
    int rc = pidfd >= 0 ? static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0))
                        : kill(pid, SIGTERM);
    if (rc != 0) {
        if (pidfd >= 0) close(pidfd);
        return -2;
    }
    return pidfd;
}

// The jobs of a detached run that may still run: each canceled on the service.
int cancel_detached(RunStore& store, const RunRecord& run, const CancelArgs& args) {
    std::string error;
    nlohmann::json plan_json = nlohmann::json::parse(run.plan_json, nullptr, false);
    auto plan = plan_json.is_discarded() ? std::nullopt : load_plan(plan_json, &error);
    if (!plan) {
        std::cerr << "amlflow: error: the plan recorded for run '" << run.id << "' cannot be read: " << error << "\n";
        return 1;
    }
    fs::path run_folder = store.run_folder(run.id);
    std::vector<RemoteJob> live;
    for (const RemoteJob& job : read_remote_jobs(run_folder)) {
        if (job.state == "submitted") live.push_back(job);
    }
    int code = 0;
    for (RemoteJob& job : live) {
        const StepPlan* step = plan->find(job.step);
        if (!step) continue;
        azureml::RemoteCancel what;
        static_cast<azureml::RemoteJobRef&>(what) = remote_job_ref(*plan, *step, run, job.job);
        what.wait = std::chrono::seconds(static_cast<long>(args.wait_s));
        std::cerr << "amlflow: canceling job '" << job.job << "' of run " << run.id << " on Azure ML\n";
        azureml::RemoteCancelOutcome outcome = azureml::cancel_remote_job(what);
        if (!outcome.ok) {
            std::cerr << "amlflow: error: " << outcome.error << "\n";
            code = 1;
            continue;
        }
        job.state = outcome.status;
        if (!record_remote_job(run_folder, job, &error)) std::cerr << "amlflow: warning: " << error << "\n";
        std::cerr << "amlflow: job '" << job.job << "' " << outcome.status << "\n";
    }
    if (code != 0) return code;
    if (!store.set_run_state(run.id, RunState::Canceled, 130)) {
        std::cerr << "amlflow: error: " << store.last_error() << "\n";
        return 1;
    }
    std::cout << "run " << run.id << " canceled\n";
    return 0;
}

int cancel(const CancelArgs& args) {
    auto store = args.where.open();  // settles runs whose interpreter is gone
    if (!store) return 1;
    auto run = StoreOption::find_run(*store, args.id);
    if (!run) return 1;
    if (run->state == RunState::Detached) return cancel_detached(*store, *run, args);
    if (run->state != RunState::Running) {
        std::cerr << "amlflow: error: run " << run->id << " is not running (state: " << to_string(run->state)
                  << "); there is nothing to cancel\n";
        return 1;
    }
    std::string why;
    pid_t pid = live_supervisor(*store, *run, &why);
    if (pid == 0) {
        std::cerr << "amlflow: error: cannot cancel run " << run->id << ": " << why << "\n";
        return 1;
    }
    int pidfd = signal_supervisor(pid, store->run_folder(run->id));
    if (pidfd == -2) {
        auto now = store->find_run(run->id);
        std::cerr << "amlflow: error: run " << run->id << " ended before it could be canceled"
                  << (now ? std::string(" (state: ") + to_string(now->state) + ")" : "") << "\n";
        return 1;
    }
    std::cerr << "amlflow: canceling run " << run->id << " (SIGTERM to amlflow, pid " << pid << ")\n";
    // Its end is the pidfd becoming readable; without pidfds, the lock being released.
    auto ended = [&](int timeout_ms) {
        if (pidfd >= 0) {
            pollfd ready{pidfd, POLLIN, 0};
            return poll(&ready, 1, timeout_ms) > 0;
        }
        poll(nullptr, 0, timeout_ms);
        return RunLock::holder(store->run_folder(run->id)) != pid;
    };
    bool done = false;
    for (int waited = 0; !done && waited < args.wait_s * 1000; waited += 100) done = ended(100);
    if (pidfd >= 0) close(pidfd);
    if (!done) {
        std::cerr << "amlflow: error: run " << run->id << " is still stopping after " << args.wait_s
                  << " s (amlflow pid " << pid << ")\n";
        return 1;
    }
    auto now = store->find_run(run->id);
    std::cout << "run " << run->id << " " << (now ? to_string(now->state) : "ended") << "\n";
    return 0;
}

}  // namespace

Runner add_cancel_command(CLI::App& app) {
    auto args = std::make_shared<CancelArgs>();
    CLI::App* command = app.add_subcommand("cancel", "Stop a running run, as Ctrl-C in its terminal would");
    command->add_option("id", args->id, "The run id, or a unique prefix of it")->required();
    command->add_option("--wait", args->wait_s, "How long to wait for it to stop, in seconds (default 60)");
    args->where.add_to(command);
    return [args]() { return cancel(*args); };
}

}  // namespace amlflow::cli
