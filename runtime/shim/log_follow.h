// The shim's side of a log file that the rank writes itself (the start frame's "log_file",
// on a folder the supervisor shares): the rank's stdout and stderr are the file, and the
// shim sends the supervisor only what its display takes, at most `rate` bytes a second, as
// out frames; the rest as skipped frames that count it (the bytes are in the file; the count
// keeps hang detection and the display's "not shown" line true). After a skip, what is sent
// starts at the next line. Why the rank writes the file: see runtime/core/log_tail.h; through
// the shim each byte was otherwise copied five times (pipe, shim, socket, supervisor, file).
//
// New bytes are noticed through a one-shot inotify watch (armed only while the display takes
// bytes, before reading, so no write is missed) and on the shim's 500 ms tick.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "runtime/core/shim_protocol.h"

namespace amlflow::shim {

class LogFollow {
public:
    using Send = std::function<void(runtime::FrameType, std::string_view)>;

    // `rate`: bytes a second for the display; 0: all; negative: none.
    LogFollow(std::string path, long long rate);
    ~LogFollow();
    LogFollow(const LogFollow&) = delete;
    LogFollow& operator=(const LogFollow&) = delete;

    // Opens (creates) the file for appending and for reading; false with *error.
    bool open(std::string* error);
    int output_fd() const { return write_fd_; }  // the rank's stdout and stderr
    int watch_fd() const { return watch_fd_; }   // poll it for POLLIN; -1: none

    // Sends what is new, as far as the display takes it. `final`: the rank has ended; read
    // to the end now.
    void pump(const Send& send, bool final);
    // Ends an unfinished last line with "\n" (a rank killed mid-line), then closes.
    void finish();

private:
    void arm(bool watch);
    void skip_to(off_t size, const Send& send);
    bool budget_left();

    std::string path_;
    long long rate_;
    int write_fd_ = -1, read_fd_ = -1, watch_fd_ = -1;
    off_t sent_to_ = 0;
    bool resync_ = false;
    std::chrono::steady_clock::time_point window_ = std::chrono::steady_clock::now();
    long long sent_in_window_ = 0;
};

}  // namespace amlflow::shim
