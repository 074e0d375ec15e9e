#include "runtime/store/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace amlflow::runtime {

namespace {

// The pid written into the lock file by its holder; 0 when it cannot be read.
long read_holder(int fd) {
    char text[32] = {};
    ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
    if (got <= 0) return 0;
    long pid = std::strtol(text, nullptr, 10);
    return pid > 0 ? pid : 0;
}

}  // namespace

std::optional<RunLock> RunLock::acquire(const std::filesystem::path& run_folder, std::string* error, long* holder) {
    if (holder) *holder = -1;
    std::filesystem::path path = run_folder / "lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = "cannot open " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int code = errno;
        if (code == EWOULDBLOCK) {
            long pid = read_holder(fd);
            if (holder) *holder = pid;
            *error = "another amlflow" + (pid ? " (pid " + std::to_string(pid) + ")" : std::string()) + " is running it";
        } else {
            *error = std::string("cannot lock it: ") + std::strerror(code);
        }
        ::close(fd);
        return std::nullopt;
    }
    // Who holds it, for the one who is refused. Only ever read while the lock is held, so
    // a stale pid from an earlier holder is never shown.
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // Not knowing the pid costs only the message; the lock itself holds.
    }
    return RunLock(fd);
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace amlflow::runtime
