#include "runtime/core/log_tail.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace amlflow::runtime {
namespace {

constexpr std::size_t kChunk = 64 * 1024;  // one pread; the relay's line limit fits in it
constexpr auto kLookAgain = std::chrono::milliseconds(200);

// One read buffer for every tail: the loop runs one callback at a time.
char* chunk_buffer() {
    static const std::unique_ptr<char[]> buffer(new char[kChunk]);
    return buffer.get();
}

LogRelayOptions display_options(const LogRelayOptions& options) {
    LogRelayOptions out = options;
    out.path.clear();    // the rank writes the file
    out.tail_lines = 0;  // the last lines come from the file
    return out;
}

bool read_at(int fd, char* into, std::size_t size, off_t at, std::size_t* got) {
    for (;;) {
        ssize_t n = pread(fd, into, size, at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        *got = static_cast<std::size_t>(n);
        return true;
    }
}

}  // namespace

LogTail::LogTail(EventLoop& loop, FileWatch& watch, LogRelayOptions options, LineSink* sink)
    : loop_(loop),
      watch_(watch),
      options_(std::move(options)),
      sink_(sink),
      display_(loop, display_options(options_), sink) {}

LogTail::~LogTail() { finish(); }

bool LogTail::open(std::string* error) {
    if (write_fd_ >= 0) return true;
    if (!open_rank_log(options_.path, &write_fd_, &read_fd_)) {
        if (error) *error = "cannot open log file '" + options_.path + "': " + strerror(errno);
        return false;
    }
    struct stat st {};
    if (fstat(read_fd_, &st) == 0) shown_to_ = seen_size_ = st.st_size;  // an earlier writer's
    return true;
}

void LogTail::follow() {
    if (read_fd_ < 0 || finished_) return;
    following_ = true;
    show();
}

// Whether the file grew since it was last looked at; *size is its size now.
bool LogTail::update_size(off_t* size) const {
    struct stat st {};
    if (read_fd_ < 0 || fstat(read_fd_, &st) != 0) {
        *size = seen_size_;
        return false;
    }
    *size = st.st_size;
    if (st.st_size == seen_size_) return false;
    seen_size_ = st.st_size;
    // When the rank wrote last, on the loop's clock: hang detection counts from there.
    auto written = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    auto ago = std::max(std::chrono::system_clock::now() - written, std::chrono::system_clock::duration::zero());
    last_output_ = Clock::now() - std::chrono::duration_cast<Clock::duration>(ago);
    return true;
}

void LogTail::show() {
    if (finished_ || read_fd_ < 0 || !sink_) return;  // no display: the file is read when asked
    // Armed before the file is read, so that a write after the read is not missed.
    if (following_ && !watch_.arm(this, options_.path, [this] { show(); })) look_again_later();
    off_t size = 0;
    update_size(&size);
    std::size_t budget = kRoundBytes;
    while (shown_to_ < size && budget > 0) {
        if (!sink_->accepting()) {
            skip_to(size);
            if (following_) {
                // No watch while the display takes nothing (each write would wake us for
                // nothing); a look when its next second may have begun.
                watch_.disarm(this);
                look_again_later();
            }
            return;
        }
        std::size_t got = 0;
        std::size_t want = std::min<std::size_t>({kChunk, budget, static_cast<std::size_t>(size - shown_to_)});
        if (!read_at(read_fd_, chunk_buffer(), want, shown_to_, &got)) break;
        shown_to_ += static_cast<off_t>(got);
        budget -= got;
        std::string_view text(chunk_buffer(), got);
        if (resync_) display_.skip(Stream::out, drop_skipped_line(&text, &resync_));
        if (!text.empty()) display_.write(Stream::out, text);
    }
    if (shown_to_ < size && following_) look_again_later();  // the round's share is read
}

void LogTail::skip_to(off_t size) {
    if (size <= shown_to_) return;
    display_.skip(Stream::out, static_cast<std::size_t>(size - shown_to_));
    shown_to_ = size;
    resync_ = true;
}

void LogTail::look_again_later() {
    if (later_ != 0) return;
    // At once when a round's share was read and the display wants more; else after a pause.
    bool more = sink_ && sink_->accepting();
    later_ = loop_.after(more ? Clock::duration::zero() : Clock::duration(kLookAgain), [this] {
        later_ = 0;
        show();
    });
}

void LogTail::drain() {
    if (finished_) return;
    following_ = false;  // the rank has exited: read to the end now, no more watching
    watch_.disarm(this);
    loop_.cancel(later_);
    later_ = 0;
    off_t size = 0;
    update_size(&size);
    while (sink_ && shown_to_ < size) {
        off_t before = shown_to_;
        show();
        if (shown_to_ == before) break;  // unreadable: give up on the display
    }
    display_.end(Stream::out);  // the last line, if the rank did not end it
}

void LogTail::finish() {
    if (finished_) return;
    drain();
    off_t size = 0;
    update_size(&size);
    if (end_last_line(read_fd_, write_fd_)) update_size(&size);
    final_tail_ = read_tail();
    finished_ = true;
    if (write_fd_ >= 0) ::close(write_fd_);
    if (read_fd_ >= 0) ::close(read_fd_);
    write_fd_ = read_fd_ = -1;
}

std::vector<std::string> LogTail::tail() const { return finished_ ? final_tail_ : read_tail(); }

std::vector<std::string> LogTail::read_tail() const { return last_lines(loop_, read_fd_, options_); }

std::vector<std::string> last_lines(EventLoop& loop, int fd, const LogRelayOptions& options) {
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return {};
    off_t from = std::max<off_t>(0, st.st_size - static_cast<off_t>(LogTail::kTailBytes));
    std::string text(static_cast<std::size_t>(st.st_size - from), '\0');
    std::size_t have = 0;
    for (std::size_t got = 0; have < text.size(); have += got) {
        if (!read_at(fd, text.data() + have, text.size() - have, from + static_cast<off_t>(have), &got)) break;
    }
    text.resize(have);
    // Begun inside a line: that line's start is not read, so it is left out.
    std::size_t nl = text.find('\n');
    if (from > 0 && nl != std::string::npos) text.erase(0, nl + 1);
    LogRelayOptions tail_options = options;
    tail_options.path.clear();
    LogRelay lines(loop, tail_options, nullptr);
    lines.write(Stream::out, text);
    lines.end(Stream::out);
    return lines.tail();
}

std::vector<std::string> last_lines(EventLoop& loop, const LogRelayOptions& options) {
    int fd = ::open(options.path.c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<std::string> lines = last_lines(loop, fd, options);
    if (fd >= 0) ::close(fd);
    return lines;
}

bool open_rank_log(const std::string& path, int* write_fd, int* read_fd) {
    *write_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    *read_fd = *write_fd >= 0 ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC) : -1;
    if (*read_fd >= 0) return true;
    int why = errno;
    if (*write_fd >= 0) ::close(*write_fd);
    *write_fd = -1;
    errno = why;
    return false;
}

bool end_last_line(int read_fd, int write_fd) {
    struct stat st {};
    char last = '\n';
    if (read_fd < 0 || fstat(read_fd, &st) != 0 || st.st_size == 0) return false;
    if (pread(read_fd, &last, 1, st.st_size - 1) != 1 || last == '\n') return false;
    return ::write(write_fd, "\n", 1) == 1;
}

std::size_t drop_skipped_line(std::string_view* text, bool* resync) {
    std::size_t nl = text->find('\n');
    std::size_t dropped = nl == std::string_view::npos ? text->size() : nl + 1;
    text->remove_prefix(dropped);
    *resync = nl == std::string_view::npos;
    return dropped;
}

bool whole_line_logs() {
    const char* lines = std::getenv("AMLFLOW_LOG_LINES");
    return lines && std::string(lines) == "1";
}

std::optional<LogTail::Clock::time_point> LogTail::last_output() const {
    off_t size = 0;
    update_size(&size);
    return last_output_;
}

std::uint64_t LogTail::size() const {
    off_t size = 0;
    update_size(&size);
    return static_cast<std::uint64_t>(size);
}

}  // namespace amlflow::runtime
