#include "runtime/store/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace amlflow::runtime {

std::optional<RunLock> RunLock::acquire(const std::filesystem::path& run_folder, std::string* error, bool* held) {
    if (held) *held = false;
    std::filesystem::path path = run_folder / "lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = "cannot open " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int code = errno;
        ::close(fd);
        if (held) *held = code == EWOULDBLOCK;
        *error = code == EWOULDBLOCK ? "another amlflow is running it" : std::string("cannot lock it: ") + std::strerror(code);
        return std::nullopt;
    }
    return RunLock(fd);
}

// A line of /proc/locks: "1: FLOCK  ADVISORY  WRITE 4242 fe:00:10961141 0 EOF", the
// device as hex major:minor, then the inode; waiters have "->" after the number.
pid_t RunLock::holder(const std::filesystem::path& run_folder) {
    struct stat st {};
    if (::stat((run_folder / "lock").c_str(), &st) != 0) return 0;
    std::ifstream table("/proc/locks");
    std::string line;
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string number, kind, mode, access, where;
        long pid = 0;
        if (!(fields >> number >> kind) || kind == "->" || kind != "FLOCK") continue;
        if (!(fields >> mode >> access >> pid >> where) || access != "WRITE") continue;
        unsigned major_number = 0, minor_number = 0;
        unsigned long long inode = 0;
        if (std::sscanf(where.c_str(), "%x:%x:%llu", &major_number, &minor_number, &inode) != 3) continue;
        if (major_number == major(st.st_dev) && minor_number == minor(st.st_dev) && inode == st.st_ino) {
            return static_cast<pid_t>(pid);
        }
    }
    return 0;
}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace amlflow::runtime
