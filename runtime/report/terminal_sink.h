// The terminal end of the log relay: every rank's lines on one fd (the interpreter's
// stdout), each behind its rank's prefix, "[train 1] ", coloured per rank when the fd is
// a terminal. Lines are gathered and written in large writes at the end of each burst, so
// relaying costs the terminal a write per readiness round, not one per line.
//
// Writes block: a terminal that cannot keep up slows the ranks down through their pipes
// (as it would have without us) instead of losing lines. The log files are the record;
// if the fd breaks (EPIPE, a closed terminal) output to it stops and the run goes on.
#pragma once

#include <string>
#include <string_view>

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

    bool coloured() const { return colour_; }

private:
    int fd_;
    bool colour_;
    bool broken_ = false;
    std::string buffer_;
};

}  // namespace amlflow::runtime
