// The terminal end of the log relay: every rank's lines on one fd (the interpreter's
// stdout), each behind its rank's prefix, "[train 1] ", coloured per rank when the fd is
// a terminal. Lines are gathered and written in large writes at the end of each burst, so
// relaying costs the terminal a write per readiness round, not one per line.
//
// The display shows what a person can read, not everything ranks can write: at most
// `rate` bytes of rank output a second (AMLFLOW_TERMINAL_RATE, default 1 MiB; 0: no
// limit). Past that, lines are left out of the display until the next second, and each
// rank that lost some gets one line a second saying how much and where its log is. The
// log files always get every line (LogRelay), and relaying stays near the disk's speed
// however fast the ranks write, whether stdout is a terminal, a file or /dev/null.
//
// Writes block: a terminal that cannot keep up slows the ranks down through their pipes
// (as it would have without us) instead of losing lines. The log files are the record;
// if the fd breaks (EPIPE, a closed terminal) output to it stops and the run goes on.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/log_relay.h"

namespace amlflow::runtime {

// Colour on `fd`: a terminal, NO_COLOR unset, TERM not "dumb".
bool colour_allowed(int fd);
// Writes all of `text`, retrying short writes; false when the fd is broken.
bool write_all(int fd, std::string_view text);

class TerminalSink : public LineSink {
public:
    enum class Colour { automatic, always, never };

    // automatic: colour when `fd` is a TTY, NO_COLOR is unset and TERM is not "dumb".
    explicit TerminalSink(int fd = 1, Colour colour = Colour::automatic);
    ~TerminalSink() override;  // flushes
    TerminalSink(const TerminalSink&) = delete;
    TerminalSink& operator=(const TerminalSink&) = delete;

    std::string prefix(const std::string& label, int colour) const override;
    void line(std::string_view prefix, Stream stream, std::string_view text) override;
    void flush() override;
    bool accepting() override;
    void skipped(std::string_view prefix, std::size_t bytes) override;

    // Bytes of rank output shown per second; 0: all. From AMLFLOW_TERMINAL_RATE by default.
    void set_rate(std::size_t bytes_per_second) { rate_ = bytes_per_second; }
    static std::size_t rate_from_environment();

    bool coloured() const { return colour_; }

private:
    void report_skipped();

    int fd_;
    bool colour_;
    bool broken_ = false;
    std::string buffer_;
    std::size_t rate_;
    std::size_t shown_ = 0;  // in the current second
    std::chrono::steady_clock::time_point window_;
    std::vector<std::pair<std::string, std::size_t>> skipped_;  // by prefix, in first-skip order
};

}  // namespace amlflow::runtime
