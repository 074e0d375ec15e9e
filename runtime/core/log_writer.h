// The writer of the per-rank log files: a thread of its own that copies the relayed bytes
// into the files, so that the event loop only reads the pipes, finds the lines, keeps the
// tail and feeds the terminal.
//
// Why a thread: the cost of relaying is the copy into the page cache, not the read or the
// line splitting (tests/bench/relay_model.c: `splice` saves almost nothing). Done on the
// loop's thread, that copy serialises behind the reads and bounds 8 ranks x 100 MB at about
// 1.3x the ranks writing their files themselves; on a second thread it overlaps them.
//
// The bytes travel in blocks of kBlockSize that the loop reads the pipes straight into
// (space(), then used()): a write is a run of the current block, taken uncopied, after a
// small copied prefix (a line completed from an earlier read's partial one, a redrawn or a
// cut line). The writer holds a block until its writes are done and then gives it back.
// Every file's writes go out in the order given: one thread, one FIFO queue.
//
// Memory is bounded: at most kMaxBlocks blocks exist. When all are taken (the writer is
// behind the disk), space() waits for one: the loop stops reading the pipes meanwhile, the
// pipes fill and the ranks block in write(). That is the backpressure the loop had when it
// wrote the files itself, and it never buffers without limit.
//
// The thread starts with the first file, with every signal blocked (the event loop takes
// SIGCHLD, SIGINT and SIGTERM in its own ppoll; none may land here). It lives as long as
// the process and sleeps on a condition variable when there is nothing to write.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace amlflow::runtime {

// One log file, shared by its relay (on the loop's thread) and the writer.
struct LogFile {
    int fd = -1;
    std::string path;
    std::uint64_t queued = 0;   // writes handed over (guarded by the writer's mutex)
    std::uint64_t written = 0;  // of those, done (or skipped after an error)
    std::string error;          // the first failed write's message
    std::size_t worker = 0;     // the thread that writes it, always the same one
};

class LogWriter {
public:
    // 1 MiB in all, what the loop's one read buffer was: small enough that the writer
    // copies bytes still in the shared cache (8 x 1 MiB measured 10-25% more CPU).
    static constexpr std::size_t kBlockSize = 256 * 1024;
    static constexpr std::size_t kMaxBlocks = 4;
    // One thread beside the loop's: measured on 2 cores, a second one gained nothing (the
    // loop's reads and the page cache's copies already fill both) and cost CPU.
    static constexpr std::size_t kThreads = 1;

    // The process's writer. Each file is written by one of its threads, always the same,
    // so that its writes stay in order.
    static LogWriter& shared();
    ~LogWriter();  // writes what is queued, then ends the thread

    // A file for `fd`, which the caller keeps and closes after close().
    std::shared_ptr<LogFile> open(int fd, std::string path);

    // Room in the current block for at least `min` (<= kBlockSize) bytes; may wait for the
    // writer to give a block back. Loop thread only. The room stays valid until the next
    // space(); used(n) says that its first n bytes now hold data.
    struct Room {
        char* data;
        std::size_t size;
    };
    Room space(std::size_t min);
    void used(std::size_t n);

    // Appends `copied`, then [begin, end) (which lies in the current block's used part,
    // or is empty), to the file. Loop thread only.
    void write(const std::shared_ptr<LogFile>& file, std::string copied, const char* begin, const char* end);

    // Waits until every write handed over for `file` is in it (or failed); returns the
    // first error's message, empty when none.
    std::string wait(const LogFile& file);

private:
    struct Block {
        std::unique_ptr<char[]> data{new char[kBlockSize]};
        std::size_t used = 0;
        int refs = 0;  // the loop's (while current) and one per queued write
    };
    struct Job {
        std::shared_ptr<LogFile> file;
        std::string copied;
        Block* block = nullptr;
        const char* begin = nullptr;
        const char* end = nullptr;
    };

    struct Worker {
        std::condition_variable work;  // jobs is not empty, or stop_
        std::deque<Job> jobs;
        std::thread thread;
    };

    LogWriter() = default;
    void start();
    void run(Worker& worker);
    void release(Block* block);  // with mutex_ held

    std::mutex mutex_;
    std::condition_variable done_;  // the loop: a write is done, a block is free
    Worker workers_[kThreads];
    std::size_t next_worker_ = 0;
    std::vector<std::unique_ptr<Block>> blocks_;
    std::vector<Block*> free_;
    Block* current_ = nullptr;  // the block the loop reads into (loop thread only)
    bool started_ = false;
    bool stop_ = false;
};

}  // namespace amlflow::runtime
