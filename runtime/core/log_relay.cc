#include "runtime/core/log_relay.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "runtime/core/log_writer.h"

namespace amlflow::runtime {
namespace {

constexpr std::size_t kReadSize = 1024 * 1024;   // one read takes all a big pipe holds
constexpr std::size_t kReadMin = 64 * 1024;        // a read gets at least this much room
constexpr int kReadsPerRound = 4;                  // then let the other ranks have a turn
constexpr std::size_t kStageLimit = 256 * 1024;     // write the file at least this often
constexpr std::size_t kDrainLimit = 1024 * 1024;    // a pipe holds at most 1 MiB unprivileged
constexpr std::size_t kKeepCapacity = 4096;         // partial buffers larger are given back

// One file staging area for every relay: the loop runs one relay callback at a time, and
// each read's lines are handed to the writer before the next read. The reads go into the
// writer's blocks (LogWriter::space), so that the writer can take the lines from there.
//
// The file gets two pieces per read, in order: `staged` (copied lines: those completed
// from a partial line, redrawn, or cut) and `run`, the stretch of whole lines that lie
// in the read's block as they came, "\n" included, which the writer takes uncopied.
struct Scratch {
    std::string staged;
    const char* run_begin = nullptr;
    const char* run_end = nullptr;
};

Scratch& scratch() {
    static thread_local Scratch s;
    return s;
}

const char* find(const char* at, const char* end, char c) {
    const void* hit = std::memchr(at, c, static_cast<std::size_t>(end - at));
    return hit ? static_cast<const char*>(hit) : end;
}

// How many of the first `n` bytes to take so that a cut does not split a UTF-8 sequence.
std::size_t utf8_cut(const char* at, std::size_t n) {
    std::size_t cut = n;
    while (cut > n - std::min<std::size_t>(n, 3) && cut > 0 &&
           (static_cast<unsigned char>(at[cut]) & 0xC0) == 0x80) {
        --cut;
    }
    return cut > 0 ? cut : n;
}

}  // namespace

std::size_t display_rate_from_environment() {
    constexpr std::size_t kDefault = 1024 * 1024;
    const char* text = std::getenv("AMLFLOW_TERMINAL_RATE");
    if (!text || !*text) return kDefault;
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 10);
    return end && *end == '\0' ? static_cast<std::size_t>(value) : kDefault;
}

LogRelay::LogRelay(EventLoop& loop, LogRelayOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {
    if (options_.max_line == 0) options_.max_line = 64 * 1024;
    if (sink_) prefix_ = sink_->prefix(options_.label, options_.colour);
    views_.resize(options_.tail_lines);
    pipes_[0].stream = Stream::out;
    pipes_[1].stream = Stream::err;
}

LogRelay::~LogRelay() { finish(); }

bool LogRelay::open(std::string* error) {
    if (options_.path.empty() || file_fd_ >= 0) return true;
    file_fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (file_fd_ >= 0) {
        file_ = LogWriter::shared().open(file_fd_, options_.path);
        return true;
    }
    if (error) *error = "cannot open log file '" + options_.path + "': " + strerror(errno);
    return false;
}

void LogRelay::attach(Stream stream, int fd) {
    Pipe& pipe = pipes_[static_cast<int>(stream)];
    if (pipe.fd >= 0) {
        loop_.unwatch(pipe.fd);
        ::close(pipe.fd);
    }
    pipe.fd = fd;
    int capacity = fcntl(fd, F_GETPIPE_SZ);
    pipe.capacity = capacity > 0 ? static_cast<std::size_t>(capacity) : 64 * 1024;
    finished_ = false;
    loop_.watch(fd, POLLIN, [this, &pipe](short) { on_ready(pipe); });
}

void LogRelay::write(Stream stream, std::string_view bytes) {
    if (bytes.empty() || finished_) return;
    bytes_read_ += bytes.size();
    last_output_ = Clock::now();
    Pipe& pipe = pipes_[static_cast<int>(stream)];
    if (!file_) {
        feed(pipe, bytes.data(), bytes.data() + bytes.size());
    } else {
        // `bytes` dies when we return and the writer takes lines later: into its blocks
        // first, exactly as a read from a pipe would have put them there.
        LogWriter& writer = LogWriter::shared();
        while (!bytes.empty()) {
            LogWriter::Room room = writer.space(std::min(bytes.size(), kReadMin));
            std::size_t n = std::min(room.size, bytes.size());
            std::memcpy(room.data, bytes.data(), n);
            writer.used(n);
            feed(pipe, room.data, room.data + n);
            flush_file();
            bytes.remove_prefix(n);
        }
    }
    flush_file();
    if (sink_) sink_->flush();
}

void LogRelay::end(Stream stream) {
    Pipe& pipe = pipes_[static_cast<int>(stream)];
    if (!pipe.pending.empty()) emit_pending(pipe);
    pipe.after_cr = false;
    flush_file();
    if (sink_) sink_->flush();
    sync_file();  // the stream is over: whoever hears of it next may read the log
}

void LogRelay::skip(Stream stream, std::size_t bytes) {
    if (bytes == 0) return;
    Pipe& pipe = pipes_[static_cast<int>(stream)];
    pipe.pending.clear();
    pipe.after_cr = false;
    bytes_read_ += bytes;
    last_output_ = Clock::now();
    if (sink_) sink_->skipped(prefix_, bytes);
}

void LogRelay::on_closed(std::function<void()> callback) { on_closed_ = std::move(callback); }

bool LogRelay::closed() const { return pipes_[0].fd < 0 && pipes_[1].fd < 0; }

void LogRelay::on_ready(Pipe& pipe) {
    bool open_before = pipe.fd >= 0;
    read_some(pipe, kReadsPerRound * kReadSize, false);
    flush_file();
    if (sink_) sink_->flush();
    if (open_before && closed() && on_closed_) on_closed_();
}

// Reads up to `limit` bytes; false once the pipe is at EOF (and closed). `to_eof`: keep
// reading after a short read, to meet EOF now rather than in the loop's next round.
bool LogRelay::read_some(Pipe& pipe, std::size_t limit, bool to_eof) {
    LogWriter& writer = LogWriter::shared();
    bool any = false;
    for (std::size_t total = 0; pipe.fd >= 0 && total < limit;) {
        // Waits here when the writer holds every block: the pipes fill, the ranks block.
        LogWriter::Room room = writer.space(std::min(pipe.capacity, kReadMin));
        std::size_t size = std::min(room.size, kReadSize);
        ssize_t n = ::read(pipe.fd, room.data, size);
        if (n > 0) {
            any = true;
            total += static_cast<std::size_t>(n);
            bytes_read_ += static_cast<std::uint64_t>(n);
            writer.used(static_cast<std::size_t>(n));
            feed(pipe, room.data, room.data + n);
            flush_file();  // the writer takes this read's lines from the block
            // Less than a full pipe (and less than the room) means it is empty now: skip
            // the read that says EAGAIN. A full one means the rank is blocked on us.
            if (!to_eof && static_cast<std::size_t>(n) < std::min(pipe.capacity, size)) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        end_of_stream(pipe);  // EOF, or an error that no retry will cure
    }
    // Hang detection counts bytes, not lines: a progress bar that redraws is progress.
    if (any) last_output_ = Clock::now();
    return pipe.fd >= 0;
}

void LogRelay::feed(Pipe& pipe, const char* at, const char* end) {
    // Most output has no carriage return: whole stretches of lines then go to the file as
    // they came, without a look at each line unless the display wants the lines.
    if (!pipe.after_cr && !std::memchr(at, '\r', static_cast<std::size_t>(end - at))) {
        feed_plain(pipe, at, end);
        return;
    }
    // Line by line (progress bars): the display's rate still holds, decided once per read.
    showing_ = !sink_ || sink_->accepting();
    // Positions of the next '\n' and '\r', each searched again only once passed, so a
    // chunk is scanned once for each character however many lines it holds.
    const char* nl = at - 1;
    const char* cr = at - 1;
    while (at < end) {
        if (pipe.after_cr) {
            if (*at == '\r') {
                ++at;
                continue;
            }
            pipe.after_cr = false;
            if (*at == '\n') {
                emit_pending(pipe);
                ++at;
                continue;
            }
            pipe.pending.clear();  // redrawn: the previous state of the line is dropped
        }
        if (nl < at) nl = find(at, end, '\n');
        if (cr < at) cr = find(at, end, '\r');
        const char* stop = std::min(nl, cr);
        if (stop == end) {
            keep(pipe, at, end);
            break;
        }
        if (*stop == '\r') {
            keep(pipe, at, stop);
            pipe.after_cr = true;
        } else if (pipe.pending.empty()) {
            emit_split(pipe.stream, at, stop);  // the common case: no copy
        } else {
            keep(pipe, at, stop);
            emit_pending(pipe);
        }
        at = stop + 1;
    }
    commit_views();
    if (unshown_ > 0) {
        sink_->skipped(prefix_, unshown_);
        unshown_ = 0;
    }
    showing_ = true;
}

void LogRelay::feed_plain(Pipe& pipe, const char* at, const char* end) {
    if (!pipe.pending.empty()) {  // first the line begun in an earlier read
        const char* nl = find(at, end, '\n');
        keep(pipe, at, nl);
        if (nl == end) return;
        emit_pending(pipe);
        at = nl + 1;
    }
    const void* hit = at < end ? memrchr(at, '\n', static_cast<std::size_t>(end - at)) : nullptr;
    if (hit) {
        const char* last = static_cast<const char*>(hit);
        if (sink_ && !sink_->accepting()) {
            // The display has had its share: the lines go to the file in one piece and
            // only the last few are looked at, for the failure report.
            stage_run(at, last + 1);
            commit_views();
            remember_last_lines(at, last);
            sink_->skipped(prefix_, static_cast<std::size_t>(last + 1 - at));
        } else {
            for (const char* line = at; line <= last;) {
                const char* nl = find(line, last + 1, '\n');
                emit_split(pipe.stream, line, nl);
                line = nl + 1;
            }
        }
        at = last + 1;
    }
    if (at < end) keep(pipe, at, end);
    commit_views();
}

// Adds [begin, end) of the read buffer to what the file gets next, uncopied.
void LogRelay::stage_run(const char* begin, const char* end) {
    if (!file_) return;
    Scratch& s = scratch();
    if (s.run_begin != s.run_end && s.run_end != begin) flush_file();
    if (s.run_begin == s.run_end) s.run_begin = begin;
    s.run_end = end;
}

// The last tail_lines lines of [begin, last], where `last` is a "\n", into the tail ring.
void LogRelay::remember_last_lines(const char* begin, const char* last) {
    std::vector<std::string_view> lines;
    const char* end = last;
    while (lines.size() < options_.tail_lines) {
        const void* hit = end > begin ? memrchr(begin, '\n', static_cast<std::size_t>(end - begin)) : nullptr;
        const char* start = hit ? static_cast<const char*>(hit) + 1 : begin;
        lines.emplace_back(start, static_cast<std::size_t>(end - start));
        if (!hit) break;
        end = static_cast<const char*>(hit);
    }
    for (auto line = lines.rbegin(); line != lines.rend(); ++line) remember(*line);
}

void LogRelay::keep(Pipe& pipe, const char* at, const char* end) {
    const std::size_t max = options_.max_line;
    while (pipe.pending.size() + static_cast<std::size_t>(end - at) > max) {
        std::size_t room = max - pipe.pending.size();
        std::size_t take = room > 3 ? utf8_cut(at, room) : room;
        pipe.pending.append(at, take);
        // Cut with a "\n" in the file too: the rest of this line is still to come, and
        // the other stream's lines must not land inside it.
        emit(pipe.stream, pipe.pending, Origin::copy);
        pipe.pending.clear();
        at += take;
    }
    pipe.pending.append(at, end);
}

void LogRelay::emit_pending(Pipe& pipe) {
    emit(pipe.stream, pipe.pending, Origin::copy);
    pipe.pending.clear();
    if (pipe.pending.capacity() > kKeepCapacity) std::string().swap(pipe.pending);
}

// Emits the line [at, end) of the read buffer, which `end` (a "\n") terminates there.
void LogRelay::emit_split(Stream stream, const char* at, const char* end) {
    const std::size_t max = options_.max_line;
    while (static_cast<std::size_t>(end - at) > max) {
        std::size_t take = utf8_cut(at, max);
        emit(stream, std::string_view(at, take), Origin::buffer, false);
        at += take;
    }
    emit(stream, std::string_view(at, static_cast<std::size_t>(end - at)), Origin::buffer_line);
}

bool LogRelay::file_only(std::string_view text) const {
    for (const std::string& marker : options_.file_only) {
        if (text.find(marker) != std::string_view::npos) return true;
    }
    return false;
}

void LogRelay::emit(Stream stream, std::string_view text, Origin origin, bool line_end) {
    if (file_) {
        Scratch& s = scratch();
        if (origin == Origin::buffer_line && s.run_end == text.data()) {
            s.run_end = text.data() + text.size() + 1;  // the common case: extend the run
        } else {
            if (s.run_begin != s.run_end) s.staged.append(s.run_begin, s.run_end);
            s.run_begin = s.run_end = nullptr;
            if (origin == Origin::buffer_line) {
                s.run_begin = text.data();
                s.run_end = text.data() + text.size() + 1;
            } else {
                // A piece of an overlong line whose rest follows in this same read goes to
                // the file as it came: only the display cuts the line.
                s.staged.append(text.data(), text.size());
                if (line_end) s.staged.push_back('\n');
            }
        }
        if (s.staged.size() >= kStageLimit) flush_file();
    }
    if (sink_ && !file_only(text)) {
        if (showing_) sink_->line(prefix_, stream, text);
        else unshown_ += text.size() + 1;
    }
    if (views_.empty()) return;
    if (origin == Origin::copy) {
        commit_views();
        remember(text);
        return;
    }
    // A view into the read buffer: only the last tail_lines of them are ever copied, when
    // the read is done, instead of copying every line into the ring as it passes.
    views_[view_next_] = text;
    view_next_ = (view_next_ + 1) % views_.size();
    ++view_count_;
}

void LogRelay::commit_views() {
    std::size_t count = std::min(view_count_, views_.size());
    for (std::size_t i = 0; i < count; ++i) {
        remember(views_[(view_next_ + views_.size() - count + i) % views_.size()]);
    }
    view_count_ = 0;
}

void LogRelay::remember(std::string_view text) {
    if (options_.tail_lines == 0) return;
    if (text.size() > kTailLineMax) text = text.substr(0, utf8_cut(text.data(), kTailLineMax));
    if (ring_.size() < options_.tail_lines) {
        ring_.emplace_back(text);
        return;
    }
    ring_[ring_next_].assign(text.data(), text.size());
    ring_next_ = (ring_next_ + 1) % ring_.size();
}

std::vector<std::string> LogRelay::tail() const {
    std::vector<std::string> lines;
    lines.reserve(ring_.size());
    for (std::size_t i = 0; i < ring_.size(); ++i) {
        lines.push_back(ring_[(ring_next_ + i) % ring_.size()]);
    }
    return lines;
}

void LogRelay::end_of_stream(Pipe& pipe) {
    if (!pipe.pending.empty()) emit_pending(pipe);  // the partial last line, or last redraw
    pipe.after_cr = false;
    loop_.unwatch(pipe.fd);
    ::close(pipe.fd);
    pipe.fd = -1;
}

// Hands what this read staged to the writer, which writes it in order after the rest.
void LogRelay::flush_file() {
    Scratch& s = scratch();
    if (file_ && (!s.staged.empty() || s.run_begin != s.run_end)) {
        LogWriter::shared().write(file_, std::move(s.staged), s.run_begin, s.run_end);
    }
    s.staged.clear();
    s.run_begin = s.run_end = nullptr;
}

// Waits until the writer has put everything handed over into the file.
void LogRelay::sync_file() {
    if (!file_) return;
    std::string error = LogWriter::shared().wait(*file_);
    // Keep relaying to the terminal: losing the file is bad, losing the run worse.
    if (write_error_.empty()) write_error_ = std::move(error);
}

bool LogRelay::drain() {
    for (Pipe& pipe : pipes_) {
        if (pipe.fd >= 0) read_some(pipe, kDrainLimit, true);
    }
    flush_file();
    if (sink_) sink_->flush();
    sync_file();  // the rank has exited: its log must be complete for whoever reads it now
    return closed();
}

void LogRelay::finish() {
    if (finished_) return;
    finished_ = true;
    for (Pipe& pipe : pipes_) {
        if (pipe.fd >= 0) {
            end_of_stream(pipe);
        } else if (!pipe.pending.empty()) {
            emit_pending(pipe);
        }
    }
    flush_file();
    if (sink_) sink_->flush();
    sync_file();
    file_.reset();
    if (file_fd_ >= 0) ::close(file_fd_);
    file_fd_ = -1;
}

}  // namespace amlflow::runtime
