// amlflow-launch PARENT_PID PROGRAM [ARG...]
//
// The one step posix_spawn cannot take for us: ask the kernel to SIGKILL this process
// when the interpreter dies, so that ranks never outlive it, not even a `kill -9` of it.
// The death signal survives the execvp below, so it ends up on the rank itself. Kept tiny
// and to libc alone: it runs once per rank start, on the restart latency's critical path.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: amlflow-launch PARENT_PID PROGRAM [ARG...]\n");
        _exit(127);
    }
    char* end = nullptr;
    long parent = strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || parent <= 0) {
        fprintf(stderr, "amlflow-launch: bad parent pid '%s'\n", argv[1]);
        _exit(127);
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fprintf(stderr, "amlflow-launch: cannot set the parent-death signal: %s\n", strerror(errno));
        _exit(127);
    }
    // The parent may have died between the spawn and the prctl; then nobody would send
    // the signal, so act as if it had been sent.
    if (getppid() != static_cast<pid_t>(parent)) raise(SIGKILL);

    execvp(argv[2], argv + 2);
    int error = errno;
    fprintf(stderr, "amlflow-launch: cannot run '%s': %s\n", argv[2], strerror(error));
    // The shell's convention: 127 for a program not found, 126 for one that cannot run.
    _exit(error == ENOENT || error == ENOTDIR ? 127 : 126);
}
