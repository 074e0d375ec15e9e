// Ending every process that carries a mark in its environment ("NAME=<token>"), wherever
// it went: forked workers, processes that called setsid, daemons reparented to init. The
// run's reaper (local/reaper_main.cc) sweeps by the run's mark when amlflow ends; the rank
// shim (shim/shim_main.cc) sweeps by its rank's mark when the rank ends, on every host.
//
// Each process is addressed through a descriptor of its /proc folder, which is also a
// pidfd: the environment is read and the signal sent through the same descriptor, so a
// pid reused in between can never be hit. Needs no privileges: /proc/<pid>/environ of the
// user's own processes is readable to the user. libc only.
#pragma once

namespace amlflow::runtime {

// One pass over /proc: SIGKILL to each process (not this one) whose environment holds
// `mark` as one entry. Returns how many it found.
int kill_marked_processes(const char* mark);

// Passes until one finds none (5 ms apart, so a process forking while it is killed is
// caught next time), at most about two seconds for a process that cannot die.
void kill_all_marked_processes(const char* mark);

}  // namespace amlflow::runtime
