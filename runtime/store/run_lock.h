// One interpreter per run: `amlflow run` holds an exclusive lock on its run's folder
// while it executes, and `--resume` takes the same lock, so a run cannot be resumed
// while it is still running. The lock is the kernel's (flock): it ends with the process,
// however it ends (SIGKILL, a reboot), so no stale lock file ever needs clearing.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace amlflow::runtime {

class RunLock {
public:
    // nullopt with *error when another process holds it (*holder: its pid, 0 when it
    // cannot be told) or the lock cannot be taken (*holder: -1). The holder writes its pid
    // into the lock file, so the one refused can say who is running the run.
    static std::optional<RunLock> acquire(const std::filesystem::path& run_folder, std::string* error,
                                          long* holder = nullptr);
    RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    RunLock& operator=(RunLock&&) = delete;
    RunLock(const RunLock&) = delete;
    ~RunLock();

private:
    explicit RunLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace amlflow::runtime
