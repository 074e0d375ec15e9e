// The relay of one rank's output: its stdout and stderr pipes, read on readiness, split
// into lines, each line appended to the rank's log file and handed to the terminal sink,
// the last lines kept for the failure report.
//
// Lines, not bytes, are the unit: stdout and stderr share one log file and one terminal,
// and a line is only ever written whole, so the two streams interleave line by line and
// never inside a line. What is not a line yet waits in a per-stream partial buffer:
//   - "\r" without "\n" (tqdm and friends) redraws the line: the text after the "\r"
//     replaces the partial line instead of being appended, so a progress bar becomes one
//     line holding its last state when "\n" (or EOF) finally comes. "\r\n" is a newline.
//   - a line longer than max_line is cut into max_line pieces (at a UTF-8 boundary), so
//     a rank printing megabytes without a newline costs no more memory than any other.
//     The file gets a "\n" at a cut only where the line was still incomplete (its rest not
//     read yet); a long line read whole is written whole.
//   - at EOF the partial line is emitted as a line.
//
// Speed: reads of up to 1 MiB straight into the blocks of the log writer (log_writer.h),
// complete lines passed on as views into them, each read's lines handed to the writer's
// thread as one piece (the lines as they lie in the block, not copied), which writes the
// file while the loop reads on, and only the last tail_lines of a read copied into the
// tail ring. A read without "\r" is not split into lines at all when the display is not
// taking lines (LineSink::accepting): its whole lines go to the file in one piece, and only
// its last lines are looked at. Memory per rank is the tail ring and whatever partial line
// is pending, which is what lets 64 ranks fit in a few MB; the writer's blocks, shared by
// every relay, are bounded too (a writer behind the disk stops the reads: backpressure).
//
// The file is complete, the writer done with it, when drain(), end() or finish() returns:
// whoever hears of a rank's exit next may read its log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/log_writer.h"

namespace amlflow::runtime {

enum class Stream { out = 0, err = 1 };

// Where relayed lines go besides the log file: the terminal display. Called from the loop.
class LineSink {
public:
    virtual ~LineSink() = default;
    // The text shown before each line of the rank labelled `label` (e.g. "train 1");
    // computed once per relay. `colour` is a hint that tells ranks apart (the rank number).
    virtual std::string prefix(const std::string& label, int colour) const { return "[" + label + "] "; }
    // One complete line, without its "\n". The views die when the call returns.
    virtual void line(std::string_view prefix, Stream stream, std::string_view text) = 0;
    // The end of a burst of lines: write out what was buffered.
    virtual void flush() {}
    // Whether lines are wanted now. A display that has shown its share of lines for the
    // moment says no; the relay then writes what it read to the log file in one piece
    // without splitting it into lines, and tells skipped() how much the display missed.
    virtual bool accepting() { return true; }
    virtual void skipped(std::string_view prefix, std::size_t bytes) {}
};

// Bytes of rank output the display shows a second: AMLFLOW_TERMINAL_RATE, default 1 MiB
// (about 10,000 lines, more than anyone reads); 0: everything. The terminal sink keeps to
// it, and a rank shim sends no more than this of a rank's own log file.
std::size_t display_rate_from_environment();

struct LogRelayOptions {
    std::string label;               // the prefix's text, e.g. "train 1"
    int colour = 0;                  // passed to LineSink::prefix
    std::string path;                // the log file, opened for appending; empty: none
    std::size_t tail_lines = 50;     // lines kept for tail()
    std::size_t max_line = 64 * 1024;
    // Lines containing one of these go to the log file only, never to the display: known,
    // harmless noise of a launcher (Open MPI's), kept where a person can still read it.
    std::vector<std::string> file_only;
};

class LogRelay {
public:
    using Clock = EventLoop::Clock;
    static constexpr std::size_t kTailLineMax = 1024;  // longer tail lines are shortened

    LogRelay(EventLoop& loop, LogRelayOptions options, LineSink* sink);
    ~LogRelay();  // finish() if not done yet
    LogRelay(const LogRelay&) = delete;
    LogRelay& operator=(const LogRelay&) = delete;

    // Opens (creates) the log file; false with *error if it cannot. Without a path, true.
    bool open(std::string* error);

    // Takes ownership of a pipe's non-blocking read end and relays it until EOF.
    void attach(Stream stream, int fd);

    // Relays bytes that reached the supervisor some other way (a rank shim's connection),
    // exactly as if read from the stream's pipe: split into lines, logged, shown.
    void write(Stream stream, std::string_view bytes);
    // The end of such a stream: its partial last line is emitted, and the file is complete.
    void end(Stream stream);
    // `bytes` of the stream's output that reached the log file without passing here (a
    // rank writing its file itself, core/log_tail.h): the display is told they were left
    // out, a partial line waiting for its rest is dropped (the rest is among them), and
    // they count as output for hang detection.
    void skip(Stream stream, std::size_t bytes);

    // Called (from the loop) when every attached pipe has reached EOF.
    void on_closed(std::function<void()> callback);

    // Reads whatever the pipes hold right now, up to 1 MiB each, and writes the complete
    // lines to the file. Called when the rank has exited: everything it wrote is in the
    // pipe by then, so after drain() its log is complete and in order. Returns closed().
    // Never calls on_closed.
    bool drain();

    // Stops relaying: emits the partial lines, writes the file, closes pipes and file.
    // Idempotent. Used at EOF and when descendants hold a pipe open past the rank's exit.
    void finish();

    bool closed() const;  // no attached pipe is still open
    bool finished() const { return finished_; }

    std::vector<std::string> tail() const;             // oldest first
    std::optional<Clock::time_point> last_output() const { return last_output_; }
    std::uint64_t bytes_read() const { return bytes_read_; }
    // The first failed write, known once drain(), end() or finish() has waited for it.
    const std::string& write_error() const { return write_error_; }

private:
    struct Pipe {
        Stream stream = Stream::out;
        int fd = -1;
        std::size_t capacity = 0;  // of the pipe
        std::string pending;     // the partial line
        bool after_cr = false;   // pending ended in "\r": the next byte decides its fate
    };

    void on_ready(Pipe& pipe);
    bool read_some(Pipe& pipe, std::size_t limit, bool to_eof);
    void feed(Pipe& pipe, const char* at, const char* end);
    void keep(Pipe& pipe, const char* at, const char* end);
    void emit_pending(Pipe& pipe);
    // Where an emitted line lies: copied out (pending), in the read buffer, or in the read
    // buffer with its "\n" right after it (so the file can take it from there as is).
    enum class Origin { copy, buffer, buffer_line };
    void emit(Stream stream, std::string_view text, Origin origin, bool line_end = true);
    bool file_only(std::string_view text) const;  // options_.file_only names it
    void feed_plain(Pipe& pipe, const char* at, const char* end);
    void stage_run(const char* begin, const char* end);
    void remember_last_lines(const char* begin, const char* last);
    void commit_views();
    void emit_split(Stream stream, const char* at, const char* end);
    void remember(std::string_view text);
    void end_of_stream(Pipe& pipe);
    void flush_file();
    void sync_file();

    EventLoop& loop_;
    LogRelayOptions options_;
    LineSink* sink_;
    std::string prefix_;
    Pipe pipes_[2];
    int file_fd_ = -1;
    std::shared_ptr<LogFile> file_;  // what the writer knows of it
    bool finished_ = false;
    std::function<void()> on_closed_;
    std::vector<std::string> ring_;
    std::size_t ring_next_ = 0;
    std::vector<std::string_view> views_;  // this read's last lines, not yet in ring_
    std::size_t view_next_ = 0;
    std::size_t view_count_ = 0;
    std::optional<Clock::time_point> last_output_;
    std::uint64_t bytes_read_ = 0;
    bool showing_ = true;      // this read's lines go to the display
    std::size_t unshown_ = 0;  // bytes of this read the display did not take
    std::string write_error_;
};

}  // namespace amlflow::runtime
