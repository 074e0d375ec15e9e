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
//
// Each process is addressed through a descriptor of its /proc folder, which is also a
// pidfd: the environment is read and the signal sent through the same descriptor, so a
// pid reused in between can never be hit. Needs no privileges: /proc/<pid>/environ of the
// user's own processes is readable to the user. Kept to libc: it is tiny and always there.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace {

// Whether the NUL-separated environment in buffer[0..size) has `mark` as one entry.
bool has_entry(const char* buffer, size_t size, const char* mark, size_t mark_size) {
    size_t start = 0;
    while (start < size) {
        const char* end = static_cast<const char*>(memchr(buffer + start, '\0', size - start));
        size_t length = end ? static_cast<size_t>(end - (buffer + start)) : size - start;
        if (length == mark_size && memcmp(buffer + start, mark, mark_size) == 0) return true;
        start += length + 1;
    }
    return false;
}

// Reads /proc/<pid>/environ through the folder's descriptor; an empty one for a zombie
// or a kernel thread, nothing for another user's process.
bool marked(int folder, const char* mark, size_t mark_size) {
    int fd = openat(folder, "environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    static char* buffer = nullptr;
    static size_t capacity = 0;
    size_t size = 0;
    for (;;) {
        if (size == capacity) {
            size_t grown = capacity ? capacity * 2 : 1 << 16;
            char* bigger = static_cast<char*>(realloc(buffer, grown));
            if (!bigger) break;
            buffer = bigger;
            capacity = grown;
        }
        ssize_t n = read(fd, buffer + size, capacity - size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size += static_cast<size_t>(n);
    }
    close(fd);
    return has_entry(buffer, size, mark, mark_size);
}

void kill_through(int folder, pid_t pid) {
    if (syscall(SYS_pidfd_send_signal, folder, SIGKILL, nullptr, 0) == 0) return;
    // Kernels before 5.1 have no pidfd signals: the pid itself, just read, is the best left.
    if (errno == ENOSYS) kill(pid, SIGKILL);
}

// One pass over /proc: SIGKILL to each marked process. Returns how many it found.
int sweep(const char* mark) {
    DIR* proc = opendir("/proc");
    if (!proc) return 0;
    size_t mark_size = strlen(mark);
    pid_t self = getpid();
    int found = 0;
    while (struct dirent* entry = readdir(proc)) {
        char* end = nullptr;
        long pid = strtol(entry->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || pid == self) continue;
        int folder = openat(dirfd(proc), entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (folder < 0) continue;
        if (marked(folder, mark, mark_size)) {
            kill_through(folder, static_cast<pid_t>(pid));
            ++found;
        }
        close(folder);
    }
    closedir(proc);
    return found;
}

}  // namespace

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
    // A pass that finds processes is followed by another, 5 ms later, until one finds none;
    // a process that cannot die (stuck in the kernel) stops this after about two seconds.
    for (int pass = 0; pass < 400 && sweep(argv[1]) > 0; ++pass) {
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, nullptr);
    }
    return 0;
}
