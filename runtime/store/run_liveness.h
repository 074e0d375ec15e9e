// Whether a run still has its interpreter, decided by the run lock (run_lock.h), never by
// guessing from pids or ages: a run recorded as running whose lock another process can
// take has lost its interpreter (SIGKILL, an out-of-memory kill, a reboot). The next
// amlflow command that opens the store records such runs as interrupted, or as detached
// when their work lives on a remote service and goes on there (DESIGN §5), so that no run
// stays "running" forever and `amlflow logs --follow` on it ends.
//
// The creation of a run cannot be mistaken for a death: RunStore::create_run takes the
// lock before the record is committed, and `--resume` takes it before the run is set
// running again; a run is only ever settled while the settling process holds its lock.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/store/run_store.h"

namespace amlflow::runtime {

// Every running run whose interpreter is gone, settled; returns them with their new
// state. Best effort: a store this process cannot write is left as it is.
std::vector<std::pair<std::string, RunState>> settle_abandoned_runs(RunStore& store);

// One run: its state afterwards (Running while its interpreter lives), or nullopt when
// that cannot be told (a store error, a lock that cannot be opened).
std::optional<RunState> settle_if_abandoned(RunStore& store, const std::string& run);

// The interpreter running `run`: the process that the kernel says holds the run's lock,
// when it is the supervisor the store recorded. 0 with *why when there is none or it
// cannot be told which process it is.
pid_t live_supervisor(RunStore& store, const RunRecord& run, std::string* why);

}  // namespace amlflow::runtime
