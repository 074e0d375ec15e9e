#include "runtime/local/run_reaper.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/core/process.h"

extern char** environ;

namespace amlflow::runtime {
namespace {

std::string random_token() {
    std::random_device device;
    char text[40];
    snprintf(text, sizeof text, "%ld-%08x%08x", static_cast<long>(getpid()), device(), device());
    return text;
}

}  // namespace

RunReaper::RunReaper() : token_(random_token()), mark_(std::string(kVariable) + "=" + token_) {}

RunReaper::~RunReaper() {
    if (pipe_ >= 0) close(pipe_);
}

bool RunReaper::start(const std::string& program, std::string* error) {
    if (tried_) {
        if (!ok_ && error) *error = error_;
        return ok_;
    }
    tried_ = true;
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) {
        error_ = std::string("cannot create a pipe: ") + strerror(errno);
        if (error) *error = error_;
        return false;
    }
    // dup2 onto the same number would leave close-on-exec set: keep the read end off fd 3.
    if (ends[0] == 3) {
        int moved = fcntl(ends[0], F_DUPFD_CLOEXEC, 10);
        close(ends[0]);
        ends[0] = moved;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (int fd = 0; fd < 3; ++fd) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, ends[0], 3);
    // A session of its own: a Ctrl-C, a closed terminal or a kill of amlflow's process
    // group does not reach it. No parent-death signal: outliving amlflow is its purpose.
    posix_spawnattr_t attr;
    init_session_spawn(&attr);
    std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>(mark_.c_str()), nullptr};
    pid_t pid = -1;
    int rc = ends[0] < 0 ? EMFILE : posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (ends[0] >= 0) close(ends[0]);
    if (rc != 0) {
        close(ends[1]);
        error_ = "cannot start '" + program + "': " + strerror(rc);
        if (error) *error = error_;
        return false;
    }
    pipe_ = ends[1];
    ok_ = true;
    return true;
}

}  // namespace amlflow::runtime
