#include "runtime/hosts/command_run.h"

#include <cerrno>
#include <stdexcept>

#include <unistd.h>

extern char** environ;

namespace amlflow::runtime {

std::vector<std::string> current_environment() {
    std::vector<std::string> entries;
    for (char** entry = environ; entry && *entry; ++entry) entries.emplace_back(*entry);
    return entries;
}

std::string CommandResult::last_line() const {
    for (const std::string* text : {&err, &out}) {
        size_t end = text->size();
        while (end > 0) {
            size_t start = text->rfind('\n', end - 1);
            start = start == std::string::npos ? 0 : start + 1;
            std::string line = text->substr(start, end - start);
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\n')) line.pop_back();
            if (!line.empty()) return line;
            end = start == 0 ? 0 : start - 1;
        }
    }
    return "";
}

CommandRun::CommandRun(EventLoop& loop) : loop_(loop) {}

CommandRun::~CommandRun() {
    loop_.cancel(deadline_);
    loop_.cancel(finish_timer_);
    for (int* fd : {&out_fd_, &err_fd_}) {
        if (*fd < 0) continue;
        loop_.unwatch(*fd);
        close(*fd);
    }
    // process_'s destructor kills and reaps what is still running.
}

void CommandRun::start(const std::vector<std::string>& argv, std::chrono::milliseconds limit, Done done) {
    if (running()) throw std::logic_error("amlflow: a CommandRun was started again while running");
    done_ = std::move(done);
    result_ = CommandResult{};
    process_ = std::make_unique<Process>(loop_);
    process_->on_exit([this](const ExitStatus&) {
        // Not from inside Process's own callback: `done` may destroy this, and the Process.
        finish_timer_ = loop_.after(std::chrono::milliseconds(0), [this] { finish(); });
    });
    SpawnSpec spec{argv, current_environment(), "", launcher_beside_executable()};
    if (!process_->start(spec, &result_.error)) {
        finish_timer_ = loop_.after(std::chrono::milliseconds(0), [this] { finish(); });
        return;
    }
    result_.started = true;
    out_fd_ = process_->take_stdout();
    err_fd_ = process_->take_stderr();
    loop_.watch(out_fd_, POLLIN, [this](short) { read_ready(out_fd_, result_.out); });
    loop_.watch(err_fd_, POLLIN, [this](short) { read_ready(err_fd_, result_.err); });
    deadline_ = loop_.after(limit, [this] {
        deadline_ = 0;
        result_.timed_out = true;
        process_->stop(std::chrono::seconds(2));
    });
}

// Reads what is there now; at the end of the stream, stops watching and closes it.
void CommandRun::read_ready(int& fd, std::string& into) {
    if (fd < 0) return;
    char buffer[65536];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n > 0) {
            into.append(buffer, static_cast<size_t>(n));
            if (into.size() > 2 * kMaxOutput) into.erase(0, into.size() - kMaxOutput);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        loop_.unwatch(fd);
        close(fd);
        fd = -1;
        return;
    }
}

// The child has exited: what it wrote before is in the pipes, so read it to the end of
// what is there (a descendant still holding a pipe open does not hold us up), then report.
void CommandRun::finish() {
    finish_timer_ = 0;
    loop_.cancel(deadline_);
    deadline_ = 0;
    for (auto [fd, into] : {std::pair{&out_fd_, &result_.out}, std::pair{&err_fd_, &result_.err}}) {
        read_ready(*fd, *into);
        if (*fd >= 0) {
            loop_.unwatch(*fd);
            close(*fd);
            *fd = -1;
        }
        if (into->size() > kMaxOutput) into->erase(0, into->size() - kMaxOutput);
    }
    if (process_ && process_->exited()) {
        result_.status = process_->status();
        process_->reap();
    }
    Done done = std::move(done_);
    done_ = nullptr;
    CommandResult result = std::move(result_);
    if (done) done(std::move(result));  // last: it may destroy this
}

}  // namespace amlflow::runtime
