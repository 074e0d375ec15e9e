// A rank's log file that the rank writes itself, followed for the display: the rank's
// stdout and stderr are the file (opened for appending, as `> rank.log 2>&1` would), and
// amlflow reads back from the page cache only what it needs.
//
// Why not relay the bytes (LogRelay): through a pipe each byte is copied three times (into
// the pipe, out of it, into the page cache) where a rank writing its own file copies it
// once. Measured on the 2-core machine (tests/bench/relay_model.c, 8 ranks x 100 MB): the
// ranks' own file writes take 0.22 CPU-seconds, the same bytes through pipes 0.31 (0.05 to
// write the pipes, 0.26 to read them and write the files), with one relay thread or two,
// with read/write or splice. A relay, however it is threaded, is thus ~1.4x the direct
// writes on a machine whose cores are all busy; the target is 1.2x. Followed files cost the
// ranks nothing, and amlflow a read of what the display shows.
//
// What amlflow takes from the file:
//   - the display: from where it stopped, split into lines by a LogRelay without a file
//     ("\r" redraws and overlong lines as there), as long as the display accepts lines
//     (LineSink::accepting). When it has had its share, everything up to the file's end is
//     counted as skipped without being read, and the display resumes at the next line.
//   - the failure report's last lines: read from the file's end when asked.
//   - hang detection: the file's size and modification time.
// Reads happen when FileWatch says the file changed (one-shot inotify), at most kRoundBytes
// per file per loop round; while the display takes nothing, a timer looks again 5 times a
// second and nothing watches the file.
//
// The price, and the reason AMLFLOW_LOG_LINES=1 keeps the relay: the file holds the bytes in
// the order the rank's writes came, so a line that the rank writes to stdout in pieces can
// have a stderr write inside it (as on a terminal), and a progress bar's "\r" redraws are
// all in the file (the display still shows only the bar's last state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "runtime/core/event_loop.h"
#include "runtime/core/file_watch.h"
#include "runtime/core/log_relay.h"

namespace amlflow::runtime {

class LogTail {
public:
    using Clock = EventLoop::Clock;
    static constexpr std::size_t kRoundBytes = 1024 * 1024;  // then let the other ranks have a turn
    static constexpr std::size_t kTailBytes = 64 * 1024;     // read for the last lines

    // `options.path` must name the file. `watch` and `sink` (may be null: no display)
    // outlive the tail.
    LogTail(EventLoop& loop, FileWatch& watch, LogRelayOptions options, LineSink* sink);
    ~LogTail();  // finish() if not done yet
    LogTail(const LogTail&) = delete;
    LogTail& operator=(const LogTail&) = delete;

    // Opens (creates) the file for appending; false with *error if it cannot.
    bool open(std::string* error);
    // The descriptor to make the rank's stdout and stderr (O_APPEND, close-on-exec).
    int output_fd() const { return write_fd_; }

    // Starts following the file: call once the rank is started.
    void follow();
    // The rank has exited: shows what is left of its output, as far as the display takes it.
    void drain();
    // Stops following; ends a last line the rank did not finish with "\n" (so that the next
    // writer's lines start on a line of their own, as the relay does) and closes the file.
    // Idempotent.
    void finish();

    std::vector<std::string> tail() const;  // the file's last lines, oldest first
    std::optional<Clock::time_point> last_output() const;
    std::uint64_t size() const;

private:
    void show();
    void skip_to(off_t size);
    void look_again_later();
    bool update_size(off_t* size) const;
    std::vector<std::string> read_tail() const;

    EventLoop& loop_;
    FileWatch& watch_;
    LogRelayOptions options_;
    LineSink* sink_;
    LogRelay display_;  // lines for the display, no file
    int write_fd_ = -1;
    int read_fd_ = -1;
    off_t shown_to_ = 0;   // the display has had (or skipped) the file up to here
    bool resync_ = false;  // skipped into the middle of a line: drop through its "\n"
    bool following_ = false;
    bool finished_ = false;
    EventLoop::TimerId later_ = 0;
    std::vector<std::string> final_tail_;
    // From the file's metadata, refreshed when looked at.
    mutable off_t seen_size_ = 0;
    mutable std::optional<Clock::time_point> last_output_;
};

// The last options.tail_lines lines of a log file (of the file open as `fd`), split as the
// relay splits them ("\r" redraws at their last state), from at most its last kTailBytes.
std::vector<std::string> last_lines(EventLoop& loop, const LogRelayOptions& options);
std::vector<std::string> last_lines(EventLoop& loop, int fd, const LogRelayOptions& options);

// What LogTail and the shim's LogFollow (shim/log_follow.h) do alike with such a file:
//
// Opens `path` (created) for appending, the rank's stdout and stderr, and for reading, both
// close-on-exec; false with errno set (and neither open) when either cannot be opened.
bool open_rank_log(const std::string& path, int* write_fd, int* read_fd);
// Ends a last line the rank did not finish with "\n" (a rank killed mid-line), so that the
// next writer's lines start on a line of their own, as the relay does. True when it wrote.
bool end_last_line(int read_fd, int write_fd);
// After a skip into the middle of a line (*resync), the display resumes at the next line:
// drops from `text` what is left of the skipped one and returns how many bytes that was;
// *resync stays set while no "\n" came.
std::size_t drop_skipped_line(std::string_view* text, bool* resync);

// AMLFLOW_LOG_LINES=1: logs relayed through amlflow (whole lines) instead of written by
// the ranks themselves, for local ranks and for ranks behind a shim alike.
bool whole_line_logs();

}  // namespace amlflow::runtime
