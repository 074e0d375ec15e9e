// Readiness for files that someone else appends to: one inotify instance on the event loop,
// each watch a one-shot IN_MODIFY on one file, with a callback.
//
// Why one-shot: a rank writing 100 MB in 8 KiB writes would otherwise queue an event per
// write (the kernel merges only identical neighbours, and eight ranks interleave), each
// costing the writer inside write() and the loop a wake-up. A one-shot watch costs the
// writer one event, after which its writes take the kernel's no-watch path until the
// follower has read what is new and arms the watch again (arm first, then read, so nothing
// written in between goes unnoticed).
//
// One instance serves every file of a rank group: inotify instances are a per-user resource
// (128 by default), and a sweep runs several groups at once.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>

#include "runtime/core/event_loop.h"

namespace amlflow::runtime {

class FileWatch {
public:
    explicit FileWatch(EventLoop& loop);
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    // Calls `changed` once, from the loop, after `path` is next modified (or when the
    // kernel's queue overflowed and nobody can tell which file changed). Arming a file that
    // is armed already changes nothing. Returns false when inotify is not available (then
    // the caller must look by itself, e.g. on a timer).
    using Key = const void*;
    bool arm(Key key, const std::string& path, std::function<void()> changed);
    // Forgets `key`'s watch; its callback is not called after this.
    void disarm(Key key);

private:
    void on_ready();

    struct Watch {
        int wd = -1;
        std::function<void()> changed;
    };
    EventLoop& loop_;
    int fd_ = -1;
    std::unordered_map<Key, Watch> watches_;
    std::unordered_map<int, Key> keys_;  // by watch descriptor
};

}  // namespace amlflow::runtime
