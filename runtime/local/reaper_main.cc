// amlflow-reaper MARK
//
// The per-run reaper (run_reaper.h): started once per run by amlflow, it outlives it and
// ends every process the run left behind. It waits on fd 3, the read end of a pipe whose
// only write end amlflow holds (close-on-exec, so no rank inherits it): the read returns
// end-of-file when amlflow ends, however it ends (kill -9 included). Then it ends every
// process whose environment holds MARK ("AMLFLOW_RUN_MARK=<token>"), which every rank
// was given and every descendant inherits: forked DataLoader workers, processes that
// called setsid, daemons reparented to init. It repeats until a pass finds none, so that
// a process forking while it is killed is caught on the next pass.
// The sweep itself is core/process_sweep.h.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include <unistd.h>

#include "runtime/core/process_sweep.h"

int main(int argc, char** argv) {
    if (argc != 2 || !strchr(argv[1], '=')) {
        fprintf(stderr, "usage: amlflow-reaper NAME=TOKEN (with fd 3 the supervisor's pipe)\n");
        return 2;
    }
    // Only the pipe's end stops it: not a Ctrl-C meant for amlflow, a closed terminal, or a
    // `pkill amlflow` that reaches it before amlflow.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) signal(sig, SIG_IGN);
    for (;;) {
        char byte;
        ssize_t n = read(3, &byte, 1);
        if (n == 0) break;
        if (n < 0 && errno == EBADF) return 2;  // started wrongly: never sweep by mistake
        if (n < 0 && errno != EINTR) break;
    }
    close(3);
    amlflow::runtime::kill_all_marked_processes(argv[1]);
    return 0;
}
