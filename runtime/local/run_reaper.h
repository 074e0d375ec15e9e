// Nothing outlives a run: the per-run reaper.
//
// Ranks get a parent-death signal (amlflow-launch), so they die with amlflow even when it
// is SIGKILLed, but their own children do not: a DataLoader worker, a process that called
// setsid, a daemon reparented to init. Nobody is left to kill their process groups once
// amlflow is gone. So each run starts one small process, amlflow-reaper
// (reaper_main.cc), that outlives amlflow: it waits for a pipe from amlflow to reach
// end-of-file (amlflow ended, however) and then SIGKILLs every process whose environment
// carries this run's mark, a variable every rank is given and every descendant inherits.
// Signals go through pidfds (/proc/<pid> descriptors), so a reused pid is never hit.
//
// Why this and not another way (docs/runtime.md, "Nothing outlives a run"): a subreaper
// (PR_SET_CHILD_SUBREAPER) only collects orphans while amlflow lives, and they go to init
// when it dies; a cgroup would contain everything but is writable only with root or
// systemd's delegation; process groups and sessions can be left by setsid. An inherited
// variable needs no privilege and survives fork, setsid and reparenting; a process that
// clears its own environment (`env -i`) escapes it, and that is the documented limit.
//
// Spawned once per run, as `amlflow run` starts executing (one posix_spawn of a small
// program, not waited for); nothing is added to the start of each rank. The mark reaches
// the ranks as a variable of the environment amlflow hands to the backend, so it is in
// every process the backend starts: ranks, an mpirun and the shims and ranks under it.
#pragma once

#include <string>

namespace amlflow::runtime {

class RunReaper {
public:
    // The variable's name, and a fresh mark: "AMLFLOW_RUN_MARK=<pid>-<random>".
    static constexpr const char* kVariable = "AMLFLOW_RUN_MARK";
    RunReaper();
    // Closes the pipe: the reaper then ends what is left of the run, and exits.
    ~RunReaper();
    RunReaper(const RunReaper&) = delete;
    RunReaper& operator=(const RunReaper&) = delete;

    // Starts `program` (amlflow-reaper) in a session of its own, once; false with *error
    // when it cannot. Later calls return what the first one did.
    bool start(const std::string& program, std::string* error);
    bool started() const { return pipe_ >= 0; }

    // The variable's value; "AMLFLOW_RUN_MARK=<token>" goes in every process the run starts.
    const std::string& token() const { return token_; }

private:
    std::string token_;
    std::string mark_;  // NAME=token
    int pipe_ = -1;      // the write end, close-on-exec: only this process holds it
    bool tried_ = false;
    bool ok_ = false;
    std::string error_;
};

}  // namespace amlflow::runtime
