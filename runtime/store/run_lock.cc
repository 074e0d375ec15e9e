#include "runtime/store/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace amlflow::runtime {

std::optional<RunLock> RunLock::acquire(const std::filesystem::path& run_folder, std::string* error) {
    std::filesystem::path path = run_folder / "lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = "cannot open " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int code = errno;
        ::close(fd);
        *error = code == EWOULDBLOCK ? "another amlflow is running it" : std::string("cannot lock it: ") + std::strerror(code);
        return std::nullopt;
    }
    return RunLock(fd);
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace amlflow::runtime
