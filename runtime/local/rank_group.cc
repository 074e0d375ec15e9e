#include "runtime/local/rank_group.h"

#include "runtime/core/error_file.h"
#include "runtime/core/root_cause.h"

#include <cstdio>

#include <signal.h>

namespace amlflow::runtime {
namespace {


}  // namespace

RankGroup::RankGroup(EventLoop& loop, RankGroupOptions options, LineSink* sink)
    : loop_(loop), options_(std::move(options)), sink_(sink) {}

RankGroup::~RankGroup() {
    loop_.cancel(timeout_timer_);
    // Every group is killed before any is waited for, so the ranks die in parallel.
    for (auto& rank : ranks_) {
        if (!rank->finished && rank->process) rank->process->signal_group(SIGKILL);
    }
    for (auto& rank : ranks_) {
        loop_.cancel(rank->hang_timer);
        loop_.cancel(rank->linger_timer);
        rank->process.reset();  // reaps
        rank->log.reset();      // emits partial lines, closes pipes and file
        rank->file_log.reset();
    }
}

void RankGroup::on_rank_started(std::function<void(const RankStarted&)> callback) {
    on_rank_started_ = std::move(callback);
}

void RankGroup::on_rank_exit(std::function<void(const RankExit&)> callback) {
    on_rank_exit_ = std::move(callback);
}

void RankGroup::on_failure(std::function<void(const Failure&)> callback) {
    on_failure_ = std::move(callback);
}

void RankGroup::on_done(std::function<void(const GroupOutcome&)> callback) {
    on_done_ = std::move(callback);
}

bool RankGroup::start(std::vector<RankSpec> specs, std::string* error) {
    if (start_called_) {
        if (error) *error = "rank group already started";
        return false;
    }
    start_called_ = true;
    started_ = Clock::now();
    for (auto& spec : specs) {
        auto rank = std::make_unique<Rank>();
        rank->spec = std::move(spec);
        ranks_.push_back(std::move(rank));
    }
    if (options_.timeout > Clock::duration::zero()) {
        timeout_timer_ = loop_.after(options_.timeout, [this] {
            timeout_timer_ = 0;
            fail(FailureKind::timeout, -1, {},
                 "the ranks ran past their timeout of " + seconds(options_.timeout));
        });
    }
    bool ok = true;
    for (int i = 0; i < static_cast<int>(ranks_.size()); ++i) {
        if (ok && failure_.kind == FailureKind::none) {
            std::string why;
            if (start_rank(i, &why)) continue;
            ok = false;
            if (error) *error = rank_name(i) + " could not start: " + why;
            fail(FailureKind::spawn, i, {}, rank_name(i) + " could not start: " + why);
        }
        ranks_[i]->finished = true;  // never started
        if (ranks_[i]->log) ranks_[i]->log->finish();
        if (ranks_[i]->file_log) ranks_[i]->file_log->finish();
    }
    check_done();
    return ok;
}

bool RankGroup::open_log(Rank& rank, int index, SpawnSpec* spawn, std::string* error) {
    LogRelayOptions log_options;
    log_options.label = rank.spec.label.empty() ? rank_name(index) : rank.spec.label;
    log_options.colour = index;
    log_options.path = rank.spec.log_path;
    log_options.tail_lines = options_.tail_lines;
    if (options_.whole_lines || log_options.path.empty()) {
        rank.log = std::make_unique<LogRelay>(loop_, std::move(log_options), sink_);
        return rank.log->open(error);
    }
    if (!watch_) watch_ = std::make_unique<FileWatch>(loop_);
    rank.file_log = std::make_unique<LogTail>(loop_, *watch_, std::move(log_options), sink_);
    if (!rank.file_log->open(error)) return false;
    spawn->output_fd = rank.file_log->output_fd();
    return true;
}

bool RankGroup::start_rank(int index, std::string* error) {
    Rank& rank = *ranks_[index];
    SpawnSpec spawn{rank.spec.argv, rank.spec.env, rank.spec.cwd, options_.launcher};
    if (!open_log(rank, index, &spawn, error)) return false;
    rank.process = std::make_unique<Process>(loop_);
    rank.process->on_exit([this, index](const ExitStatus& status) { handle_exit(index, status); });
    if (!rank.process->start(spawn, error)) return false;
    if (rank.file_log) {
        rank.file_log->follow();
    } else {
        rank.log->attach(Stream::out, rank.process->take_stdout());
        rank.log->attach(Stream::err, rank.process->take_stderr());
        rank.log->on_closed([this, index] { handle_closed(index); });
    }
    if (on_rank_started_) {
        const RankSpec& spec = rank.spec;
        on_rank_started_({spec.rank >= 0 ? spec.rank : index, spec.local_rank, spec.node_rank,
                          rank.process->pid(), spec.log_path, ""});  // on this machine
    }
    if (options_.hang_timeout > Clock::duration::zero()) {
        rank.hang_timer = loop_.at(started_ + options_.hang_timeout, [this, index] { check_hang(index); });
    }
    return true;
}

void RankGroup::handle_exit(int index, const ExitStatus& status) {
    Rank& rank = *ranks_[index];
    rank.exited = true;
    loop_.cancel(rank.hang_timer);
    rank.hang_timer = 0;
    // Everything the rank wrote is in its pipes (or its file) now; read it before anyone
    // hears of the exit, so that the log is complete when they look.
    bool closed = true;
    if (rank.file_log) rank.file_log->drain();
    else closed = rank.log->drain();
    exits_.push_back(RankExit{index, status, Clock::now()});
    if (on_rank_exit_) on_rank_exit_(exits_.back());
    if (rank.hung) {
        declare_hang(index);
    } else if (!status.success()) {
        std::string message = status.signaled
                                  ? rank_name(index) + " was killed by " + status.describe()
                                  : rank_name(index) + " exited with code " + std::to_string(status.code);
        fail(status.signaled ? FailureKind::signal : FailureKind::exit_code, index, status, message);
    }
    if (closed) {
        finish_rank(index);
        return;
    }
    // A descendant still holds the pipes: give it `linger`, then end it with the group.
    rank.linger_timer = loop_.after(options_.linger, [this, index] {
        Rank& r = *ranks_[index];
        r.linger_timer = 0;
        r.process->signal_group(SIGKILL);
        r.log->drain();
        finish_rank(index);
    });
}

void RankGroup::handle_closed(int index) {
    // Pipes closed while the rank still runs: its exit will finish it.
    if (ranks_[index]->exited) finish_rank(index);
}

void RankGroup::check_hang(int index) {
    Rank& rank = *ranks_[index];
    rank.hang_timer = 0;
    if (rank.exited || failure_.kind != FailureKind::none) return;
    // Re-armed from the last output when the timer fires, rather than on every read, so
    // a chatty rank costs nothing here.
    Clock::time_point due = last_output(index).value_or(started_) + options_.hang_timeout;
    if (Clock::now() < due) {
        rank.hang_timer = loop_.at(due, [this, index] { check_hang(index); });
        return;
    }
    // Before it is stopped, a hung rank is asked for its stacks: SIGABRT makes Python's
    // faulthandler (PYTHONFAULTHANDLER=1, set for every rank) print every thread's
    // traceback into the log. The failure is declared when it dies of that, or after
    // a short window if it does not.
    rank.hung = true;
    rank.process->signal_group(SIGABRT);
    rank.hang_timer = loop_.after(std::chrono::seconds(2), [this, index] {
        ranks_[index]->hang_timer = 0;
        declare_hang(index);
    });
}

void RankGroup::declare_hang(int index) {
    fail(FailureKind::hang, index, {},
         rank_name(index) + " wrote no output for " + seconds(options_.hang_timeout));
}

void RankGroup::finish_rank(int index) {
    Rank& rank = *ranks_[index];
    if (rank.finished) return;
    rank.finished = true;
    loop_.cancel(rank.linger_timer);
    rank.linger_timer = 0;
    if (rank.log) rank.log->finish();
    // What the rank left behind in its group (a `cmd &` it never waited for) ends with it:
    // a finished step leaves no process running. The zombie leader still holds the group
    // id, so this cannot reach anyone else.
    rank.process->signal_group(SIGKILL);
    rank.process->reap();
    if (rank.file_log) rank.file_log->finish();  // after the kill: nothing writes it now
    check_done();
}

bool RankGroup::record_failure(Failure failure) {
    if (failure_.kind != FailureKind::none) return false;  // only the first failure is the cause
    failure_ = std::move(failure);
    loop_.cancel(timeout_timer_);
    timeout_timer_ = 0;
    for (auto& r : ranks_) {
        loop_.cancel(r->hang_timer);
        r->hang_timer = 0;
    }
    if (on_failure_) on_failure_(failure_);
    return true;
}

void RankGroup::fail(FailureKind kind, int rank, const ExitStatus& status, std::string message) {
    if (record_failure(Failure{kind, rank, status, std::move(message), Clock::now()})) stop_processes(options_.grace);
}

void RankGroup::stop_all(Clock::duration grace, const std::string& why) {
    if (done_) return;
    record_failure(Failure{FailureKind::stopped, -1, {}, why, Clock::now()});
    stop_processes(grace);
}

void RankGroup::stop_processes(Clock::duration grace) {
    // Ranks that exited but are not reaped get it too: their group may hold descendants.
    for (auto& rank : ranks_) {
        if (!rank->finished && rank->process) rank->process->stop(grace);
    }
}

bool RankGroup::signal_rank(int rank, int sig) {
    if (rank < 0 || rank >= static_cast<int>(ranks_.size()) || !ranks_[rank]->process) return false;
    return ranks_[rank]->process->signal_group(sig);
}

void RankGroup::check_done() {
    if (done_) return;
    for (const auto& rank : ranks_) {
        if (!rank->finished) return;
    }
    done_ = true;
    loop_.cancel(timeout_timer_);
    timeout_timer_ = 0;
    // The first rank to fail may have been only a victim of another's error (root_cause.h).
    // Each rank's last lines read once (a rank's own log file is read from disk).
    std::vector<std::optional<std::vector<std::string>>> tails(ranks_.size());
    auto tail_of = [this, &tails](int r) -> const std::vector<std::string>& {
        auto& kept = tails[static_cast<size_t>(r)];
        if (!kept) kept = tail(r);
        return *kept;
    };
    reconsider_root_cause(failure_, static_cast<int>(ranks_.size()), tail_of);
    outcome_.succeeded = failure_.kind == FailureKind::none;
    outcome_.failure = failure_;
    if (failure_.rank >= 0 && (ranks_[failure_.rank]->log || ranks_[failure_.rank]->file_log)) {
        outcome_.tail = tail_of(failure_.rank);
        outcome_.error_file = read_error_file(ranks_[failure_.rank]->spec.error_file);
    }
    outcome_.exits = exits_;
    if (on_done_) on_done_(outcome_);
}

pid_t RankGroup::pid(int rank) const {
    if (rank < 0 || rank >= static_cast<int>(ranks_.size()) || !ranks_[rank]->process) return -1;
    return ranks_[rank]->process->pid();
}

std::vector<std::string> RankGroup::tail(int rank) const {
    if (rank < 0 || rank >= static_cast<int>(ranks_.size())) return {};
    if (ranks_[rank]->file_log) return ranks_[rank]->file_log->tail();
    return ranks_[rank]->log ? ranks_[rank]->log->tail() : std::vector<std::string>{};
}

std::optional<RankGroup::Clock::time_point> RankGroup::last_output(int rank) const {
    if (rank < 0 || rank >= static_cast<int>(ranks_.size())) return {};
    if (ranks_[rank]->file_log) return ranks_[rank]->file_log->last_output();
    return ranks_[rank]->log ? ranks_[rank]->log->last_output() : std::nullopt;
}

}  // namespace amlflow::runtime
