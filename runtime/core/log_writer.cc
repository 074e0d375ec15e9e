#include "runtime/core/log_writer.h"

#include <cerrno>
#include <cstring>

#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

namespace amlflow::runtime {
namespace {

bool write_all(int fd, iovec* iov, int count) {
    while (count > 0) {
        ssize_t n = ::writev(fd, iov, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        auto done = static_cast<std::size_t>(n);
        while (count > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + done;
            iov->iov_len -= done;
        }
    }
    return true;
}

}  // namespace

LogWriter& LogWriter::shared() {
    static LogWriter writer;
    return writer;
}

LogWriter::~LogWriter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    for (Worker& worker : workers_) {
        worker.work.notify_one();
        if (worker.thread.joinable()) worker.thread.join();
    }
}

void LogWriter::start() {
    // Every signal blocked while the thread is made, so that it starts with all of them
    // blocked (a thread inherits its creator's mask) and never takes the loop's signals.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (Worker& worker : workers_) worker.thread = std::thread([this, &worker] { run(worker); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    started_ = true;
}

std::shared_ptr<LogFile> LogWriter::open(int fd, std::string path) {
    auto file = std::make_shared<LogFile>();
    file->fd = fd;
    file->path = std::move(path);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) start();
    file->worker = next_worker_++ % kThreads;
    return file;
}

LogWriter::Room LogWriter::space(std::size_t min) {
    if (min > kBlockSize) min = kBlockSize;
    if (current_ && kBlockSize - current_->used >= min) {
        return {current_->data.get() + current_->used, kBlockSize - current_->used};
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (current_) release(current_);
    current_ = nullptr;
    // The backpressure: with every block queued, wait until the writer is done with one.
    done_.wait(lock, [this] { return !free_.empty() || blocks_.size() < kMaxBlocks; });
    if (!free_.empty()) {
        current_ = free_.back();
        free_.pop_back();
    } else {
        blocks_.push_back(std::make_unique<Block>());
        current_ = blocks_.back().get();
    }
    current_->used = 0;
    current_->refs = 1;
    return {current_->data.get(), kBlockSize};
}

void LogWriter::used(std::size_t n) { current_->used += n; }

void LogWriter::write(const std::shared_ptr<LogFile>& file, std::string copied, const char* begin,
                      const char* end) {
    if (copied.empty() && begin == end) return;
    Job job{file, std::move(copied), nullptr, begin, end};
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (begin != end) {
            job.block = current_;
            ++current_->refs;
        }
        ++file->queued;
        workers_[file->worker].jobs.push_back(std::move(job));
    }
    workers_[file->worker].work.notify_one();
}

std::string LogWriter::wait(const LogFile& file) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&file] { return file.written == file.queued; });
    return file.error;
}

void LogWriter::release(Block* block) {
    if (--block->refs == 0) {
        block->used = 0;
        free_.push_back(block);
    }
}

void LogWriter::run(Worker& worker) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        worker.work.wait(lock, [this, &worker] { return !worker.jobs.empty() || stop_; });
        if (worker.jobs.empty()) return;  // stopping, and everything is written
        Job job = std::move(worker.jobs.front());
        worker.jobs.pop_front();
        LogFile& file = *job.file;
        // After a failed write the file gets no more: the first error is the one reported
        // (LogRelay::write_error), and the relay goes on feeding the terminal.
        if (file.error.empty()) {
            lock.unlock();
            iovec iov[2] = {{job.copied.data(), job.copied.size()},
                            {const_cast<char*>(job.begin), static_cast<std::size_t>(job.end - job.begin)}};
            bool ok = write_all(file.fd, iov, 2);
            int saved = errno;
            lock.lock();
            if (!ok) file.error = "cannot write log file '" + file.path + "': " + strerror(saved);
        }
        ++file.written;
        if (job.block) release(job.block);
        job = Job{};  // the file's last reference may go here, under the lock: nothing to close
        done_.notify_all();
    }
}

}  // namespace amlflow::runtime
