#include "runtime/store/run_liveness.h"

namespace amlflow::runtime {

std::optional<RunState> settle_if_abandoned(RunStore& store, const std::string& run) {
    // Created if missing (a run whose folder was never made), so that the lock can be
    // taken: settling without it could overwrite a --resume that just began.
    std::filesystem::path folder = store.run_folder(run);
    if (folder.empty()) return std::nullopt;
    std::string error;
    bool held = false;
    auto lock = RunLock::acquire(folder, &error, &held);
    if (!lock) return held ? std::optional<RunState>(RunState::Running) : std::nullopt;
    return store.record_abandoned(run);
}

std::vector<std::pair<std::string, RunState>> settle_abandoned_runs(RunStore& store) {
    std::vector<std::pair<std::string, RunState>> settled;
    auto running = store.running_runs();
    if (!running) return settled;
    for (const std::string& run : *running) {
        auto state = settle_if_abandoned(store, run);
        if (state && *state != RunState::Running) settled.emplace_back(run, *state);
    }
    return settled;
}

pid_t live_supervisor(RunStore& store, const RunRecord& run, std::string* why) {
    std::filesystem::path folder = store.run_folder(run.id);
    pid_t holder = folder.empty() ? 0 : RunLock::holder(folder);
    if (holder == 0) {
        *why = "no process holds its lock";
        return 0;
    }
    if (run.supervisor_pid != holder) {
        *why = "its lock is held by pid " + std::to_string(holder) + ", not by the interpreter the store recorded (pid " +
               std::to_string(run.supervisor_pid) + ")";
        return 0;
    }
    return holder;
}

}  // namespace amlflow::runtime
