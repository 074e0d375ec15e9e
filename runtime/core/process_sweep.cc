#include "runtime/core/process_sweep.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace amlflow::runtime {

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

}  // namespace

int kill_marked_processes(const char* mark) {
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


void kill_all_marked_processes(const char* mark) {
    for (int pass = 0; pass < 400 && kill_marked_processes(mark) > 0; ++pass) {
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, nullptr);
    }
}

}  // namespace amlflow::runtime
