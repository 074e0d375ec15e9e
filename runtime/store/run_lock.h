// One interpreter per run: `amlflow run` holds an exclusive lock on its run's folder
// while it executes, and `--resume` takes the same lock, so a run cannot be resumed
// while it is still running. The lock is the kernel's (flock): it ends with the process,
// however it ends (SIGKILL, a reboot), so no stale lock file ever needs clearing.
//
// The same lock answers "is this run still supervised?" without guessing from pids: a
// run recorded as running whose lock anyone can take has lost its interpreter
// (run_liveness.h), and the kernel's own table of locks (/proc/locks) names the process
// that holds it, which is how `amlflow cancel` finds the interpreter to signal.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace amlflow::runtime {

class RunLock {
public:
    // nullopt with *error when it cannot be taken; *held (if given) says whether that
    // is because another process holds it (rather than, say, a missing folder).
    static std::optional<RunLock> acquire(const std::filesystem::path& run_folder, std::string* error,
                                          bool* held = nullptr);
    // The process holding the lock on run_folder/lock, from /proc/locks; 0 when nobody
    // holds it or the kernel's table cannot be read.
    static pid_t holder(const std::filesystem::path& run_folder);

    RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    RunLock& operator=(RunLock&& other) noexcept;
    RunLock(const RunLock&) = delete;
    ~RunLock();

private:
    explicit RunLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace amlflow::runtime
