#include "runtime/shim/log_follow.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/core/log_tail.h"

namespace amlflow::shim {
namespace {

constexpr std::size_t kChunk = 256 * 1024;        // one read, one out frame
constexpr std::size_t kRoundBytes = 1024 * 1024;  // then the shim's loop has a turn

off_t size_of(int fd) {
    struct stat st {};
    return fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
}

}  // namespace

LogFollow::LogFollow(std::string path, long long rate) : path_(std::move(path)), rate_(rate) {}

LogFollow::~LogFollow() {
    for (int fd : {write_fd_, read_fd_, watch_fd_}) {
        if (fd >= 0) close(fd);
    }
}

bool LogFollow::open(std::string* error) {
    if (!runtime::open_rank_log(path_, &write_fd_, &read_fd_)) {
        // The supervisor took this host to share its folder (shared_fs = true).
        *error = "cannot open the rank's log file '" + path_ + "': " + std::strerror(errno) +
                 " (does this host share the run store's folder? if not, set shared_fs = false)";
        return false;
    }
    sent_to_ = size_of(read_fd_);
    watch_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);  // -1: the tick alone notices
    return true;
}

// Whatever woke us is read: the queue is emptied (else poll would return at once forever),
// and the file is watched once more if the display takes bytes.
void LogFollow::arm(bool watch) {
    if (watch_fd_ < 0) return;
    char events[1024];
    while (read(watch_fd_, events, sizeof events) > 0) {
    }
    if (watch) inotify_add_watch(watch_fd_, path_.c_str(), IN_MODIFY | IN_ONESHOT);
}

bool LogFollow::budget_left() {
    if (rate_ == 0) return true;
    if (rate_ < 0) return false;
    auto now = std::chrono::steady_clock::now();
    if (now - window_ >= std::chrono::seconds(1)) {
        window_ = now;
        sent_in_window_ = 0;
    }
    return sent_in_window_ < rate_;
}

void LogFollow::skip_to(off_t size, const Send& send) {
    if (size <= sent_to_) return;
    send(runtime::FrameType::skipped, std::to_string(size - sent_to_));
    sent_to_ = size;
    resync_ = true;
}

void LogFollow::pump(const Send& send, bool final) {
    if (read_fd_ < 0) return;
    arm(budget_left() && !final);  // before the read: a write after it wakes us
    static std::vector<char> buffer(kChunk);
    std::size_t round = 0;
    for (off_t size = size_of(read_fd_); sent_to_ < size && (final || round < kRoundBytes);) {
        if (!budget_left()) return skip_to(size, send);  // the tick comes back for more
        std::size_t want = std::min<std::size_t>(kChunk, static_cast<std::size_t>(size - sent_to_));
        ssize_t n = pread(read_fd_, buffer.data(), want, sent_to_);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        sent_to_ += n;
        round += static_cast<std::size_t>(n);
        std::string_view text(buffer.data(), static_cast<std::size_t>(n));
        if (resync_) send(runtime::FrameType::skipped, std::to_string(runtime::drop_skipped_line(&text, &resync_)));
        if (text.empty()) continue;
        send(runtime::FrameType::out, text);
        sent_in_window_ += static_cast<long long>(text.size());
    }
}

void LogFollow::finish() {
    runtime::end_last_line(read_fd_, write_fd_);  // best effort: the rank's bytes are there either way
    for (int* fd : {&write_fd_, &read_fd_, &watch_fd_}) {
        if (*fd >= 0) close(*fd);
        *fd = -1;
    }
}

}  // namespace amlflow::shim
