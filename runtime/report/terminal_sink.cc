#include "runtime/report/terminal_sink.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <poll.h>
#include <unistd.h>

namespace amlflow::runtime {
namespace {

constexpr std::size_t kFlushAt = 64 * 1024;

// Red is left out: it reads as "error", and any rank's line may be an ordinary one.
constexpr const char* kColours[] = {"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"};

}  // namespace

bool colour_allowed(int fd) {
    const char* term = std::getenv("TERM");
    return isatty(fd) && std::getenv("NO_COLOR") == nullptr && !(term && std::strcmp(term, "dumb") == 0);
}

bool write_all(int fd, std::string_view text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

TerminalSink::TerminalSink(int fd, Colour colour)
    : fd_(fd),
      colour_(colour == Colour::always || (colour == Colour::automatic && colour_allowed(fd))),
      rate_(rate_from_environment()),
      window_(std::chrono::steady_clock::now()) {}

TerminalSink::~TerminalSink() {
    report_skipped();
    flush();
}

std::size_t TerminalSink::rate_from_environment() { return display_rate_from_environment(); }

bool TerminalSink::accepting() {
    if (rate_ == 0) return true;
    auto now = std::chrono::steady_clock::now();
    if (now - window_ >= std::chrono::seconds(1)) {
        report_skipped();
        window_ = now;
        shown_ = 0;
    }
    return shown_ < rate_;
}

void TerminalSink::skipped(std::string_view prefix, std::size_t bytes) {
    for (auto& [known, total] : skipped_) {
        if (known == prefix) {
            total += bytes;
            return;
        }
    }
    skipped_.emplace_back(std::string(prefix), bytes);
}

// One line per rank that lost output to the display in the second that ended.
void TerminalSink::report_skipped() {
    for (const auto& [prefix, bytes] : skipped_) {
        char amount[64];
        if (bytes >= 1024 * 1024) std::snprintf(amount, sizeof amount, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
        else std::snprintf(amount, sizeof amount, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
        char rate[32];
        std::snprintf(rate, sizeof rate, "%.3g MiB/s", static_cast<double>(rate_) / (1024.0 * 1024.0));
        std::string text = std::string("... ") + amount + " of output not shown (the display shows " + rate +
                           " at most, AMLFLOW_TERMINAL_RATE; the rank's log has every line)";
        buffer_.append(prefix.data(), prefix.size());
        buffer_.append(text);
        buffer_.push_back('\n');
    }
    skipped_.clear();
}

std::string TerminalSink::prefix(const std::string& label, int colour) const {
    if (!colour_) return "[" + label + "] ";
    std::size_t count = sizeof kColours / sizeof kColours[0];
    const char* code = kColours[static_cast<std::size_t>(colour < 0 ? -colour : colour) % count];
    return std::string("\x1b[") + code + "m[" + label + "]\x1b[0m ";
}

void TerminalSink::line(std::string_view prefix, Stream, std::string_view text) {
    if (broken_) return;
    shown_ += prefix.size() + text.size() + 1;
    buffer_.append(prefix.data(), prefix.size());
    buffer_.append(text.data(), text.size());
    buffer_.push_back('\n');
    if (buffer_.size() >= kFlushAt) flush();
}

void TerminalSink::flush() {
    const char* at = buffer_.data();
    std::size_t left = buffer_.size();
    while (left > 0 && !broken_) {
        ssize_t n = ::write(fd_, at, left);
        if (n > 0) {
            at += n;
            left -= static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EAGAIN) {
            // Someone made our stdout non-blocking (it is shared with the shell): wait for
            // room rather than spin or drop lines.
            pollfd p{fd_, POLLOUT, 0};
            poll(&p, 1, -1);
        } else if (!(n < 0 && errno == EINTR)) {
            broken_ = true;
        }
    }
    buffer_.clear();
    if (buffer_.capacity() > 4 * kFlushAt) std::string().swap(buffer_);
}

}  // namespace amlflow::runtime
