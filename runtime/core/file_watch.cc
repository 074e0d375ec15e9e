#include "runtime/core/file_watch.h"

#include <cerrno>
#include <vector>

#include <sys/inotify.h>
#include <unistd.h>

namespace amlflow::runtime {

FileWatch::FileWatch(EventLoop& loop) : loop_(loop) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ >= 0) loop_.watch(fd_, POLLIN, [this](short) { on_ready(); });
}

FileWatch::~FileWatch() {
    if (fd_ < 0) return;
    loop_.unwatch(fd_);
    close(fd_);  // removes every watch
}

bool FileWatch::arm(Key key, const std::string& path, std::function<void()> changed) {
    if (fd_ < 0) return false;
    Watch& watch = watches_[key];
    watch.changed = std::move(changed);
    if (watch.wd >= 0) return true;
    int wd = inotify_add_watch(fd_, path.c_str(), IN_MODIFY | IN_ONESHOT);
    if (wd < 0) {
        watches_.erase(key);
        return false;
    }
    watch.wd = wd;
    keys_[wd] = key;
    return true;
}

void FileWatch::disarm(Key key) {
    auto found = watches_.find(key);
    if (found == watches_.end()) return;
    if (found->second.wd >= 0) {
        inotify_rm_watch(fd_, found->second.wd);
        keys_.erase(found->second.wd);
    }
    watches_.erase(found);
}

void FileWatch::on_ready() {
    // Which files changed, gathered before any callback runs: a callback re-arms its watch.
    std::vector<Key> changed;
    bool overflow = false;
    alignas(inotify_event) char buffer[4096];
    for (;;) {
        ssize_t n = read(fd_, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t at = 0; at < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            if (event->mask & IN_Q_OVERFLOW) {
                overflow = true;
                continue;
            }
            auto found = keys_.find(event->wd);
            if (found == keys_.end()) continue;  // disarmed meanwhile, or its IN_IGNORED
            Key key = found->second;
            // One-shot: the kernel removes the watch after this event (IN_IGNORED follows).
            keys_.erase(found);
            watches_[key].wd = -1;
            changed.push_back(key);
        }
    }
    if (overflow) {
        // Events were lost: any watch may have fired. Each is armed afresh by its owner
        // (inotify_add_watch on a watched file just returns its descriptor again).
        for (auto& [key, watch] : watches_) {
            if (watch.wd >= 0) keys_.erase(watch.wd);
            watch.wd = -1;
            changed.push_back(key);
        }
    }
    for (Key key : changed) {
        auto found = watches_.find(key);
        if (found == watches_.end() || !found->second.changed) continue;
        auto callback = found->second.changed;  // the callback may re-arm or disarm
        callback();
    }
}

}  // namespace amlflow::runtime
