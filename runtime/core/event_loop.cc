#include "runtime/core/event_loop.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include <pthread.h>
#include <time.h>

namespace amlflow::runtime {
namespace {

constexpr int kSignals[3] = {SIGCHLD, SIGINT, SIGTERM};

// Written only by the handler, read and cleared by the loop's thread between waits.
volatile sig_atomic_t g_pending[3] = {0, 0, 0};
std::atomic<bool> g_loop_exists{false};

int signal_index(int signo) {
    for (int i = 0; i < 3; ++i) {
        if (kSignals[i] == signo) return i;
    }
    return -1;
}

extern "C" void note_signal(int signo) {
    int index = signal_index(signo);
    if (index >= 0) g_pending[index] = 1;
}

timespec to_timespec(EventLoop::Clock::duration d) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (ns < 0) ns = 0;
    return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

}  // namespace

EventLoop::EventLoop() {
    if (g_loop_exists.exchange(true)) {
        throw std::logic_error("amlflow: only one EventLoop may exist at a time");
    }
    sigset_t handled;
    sigemptyset(&handled);
    for (int signo : kSignals) sigaddset(&handled, signo);
    pthread_sigmask(SIG_BLOCK, &handled, &old_mask_);
    // Whatever the mask was when we started (a parent may have left them blocked), the
    // wait must let exactly these through.
    wait_mask_ = old_mask_;
    for (int signo : kSignals) sigdelset(&wait_mask_, signo);
    for (int i = 0; i < 3; ++i) {
        g_pending[i] = 0;
        struct sigaction action {};
        action.sa_handler = note_signal;
        sigfillset(&action.sa_mask);
        action.sa_flags = kSignals[i] == SIGCHLD ? SA_NOCLDSTOP : 0;
        sigaction(kSignals[i], &action, &old_actions_[i]);
    }
}

EventLoop::~EventLoop() {
    // Dispositions before the mask: a SIGINT still pending must meet the old action (and
    // end the process as it would have), not our flag-setting handler with nobody to read it.
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &old_actions_[i], nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    for (int i = 0; i < 3; ++i) g_pending[i] = 0;
    g_loop_exists = false;
}

void EventLoop::watch(int fd, short events, FdCallback callback) {
    unwatch(fd);
    watches_.push_back(std::make_unique<Watch>(Watch{fd, events, true, std::move(callback)}));
}

void EventLoop::unwatch(int fd) {
    for (auto& w : watches_) {
        if (w->active && w->fd == fd) w->active = false;  // erased by compact()
    }
    if (!dispatching_) compact();
}

bool EventLoop::watching(int fd) const {
    for (const auto& w : watches_) {
        if (w->active && w->fd == fd) return true;
    }
    return false;
}

EventLoop::TimerId EventLoop::at(Clock::time_point when, Callback callback) {
    TimerId id = next_timer_++;
    heap_.push_back(Timer{when, id});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    timer_callbacks_.emplace(id, std::move(callback));
    return id;
}

EventLoop::TimerId EventLoop::after(Clock::duration delay, Callback callback) {
    return at(Clock::now() + delay, std::move(callback));
}

void EventLoop::cancel(TimerId id) {
    if (timer_callbacks_.erase(id) == 0) return;
    // Cancelled entries stay in the heap until they surface; rebuild when they dominate
    // so a caller that re-arms often cannot grow the heap without bound.
    if (heap_.size() > 64 && heap_.size() > 2 * timer_callbacks_.size()) {
        heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                                   [&](const Timer& t) { return !timer_callbacks_.count(t.id); }),
                    heap_.end());
        std::make_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
}

EventLoop::SignalId EventLoop::on_signal(int signo, Callback callback) {
    if (signal_index(signo) < 0) {
        throw std::invalid_argument("amlflow: the event loop handles SIGCHLD, SIGINT and SIGTERM only");
    }
    SignalId id = next_signal_++;
    signals_.push_back(std::make_unique<SignalSubscription>(
        SignalSubscription{id, signo, true, std::move(callback)}));
    return id;
}

void EventLoop::remove_signal(SignalId id) {
    for (auto& s : signals_) {
        if (s->id == id) s->active = false;
    }
    if (!dispatching_) compact();
}

std::optional<EventLoop::Clock::time_point> EventLoop::next_deadline() {
    while (!heap_.empty() && !timer_callbacks_.count(heap_.front().id)) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        heap_.pop_back();
    }
    if (heap_.empty()) return std::nullopt;
    return heap_.front().when;
}

int EventLoop::wait(std::optional<Clock::time_point> until) {
    pollfds_.clear();
    polled_.clear();
    for (std::size_t i = 0; i < watches_.size(); ++i) {
        if (!watches_[i]->active) continue;
        pollfds_.push_back(pollfd{watches_[i]->fd, watches_[i]->events, 0});
        polled_.push_back(i);
    }
    std::optional<Clock::time_point> deadline = next_deadline();
    if (until && (!deadline || *until < *deadline)) deadline = until;
    timespec timeout{};
    if (deadline) timeout = to_timespec(*deadline - Clock::now());
    int n = ppoll(pollfds_.data(), pollfds_.size(), deadline ? &timeout : nullptr, &wait_mask_);
    if (n < 0 && errno != EINTR) {
        throw std::system_error(errno, std::generic_category(), "amlflow: ppoll");
    }
    return n;
}

void EventLoop::dispatch_signals() {
    for (int i = 0; i < 3; ++i) {
        if (!g_pending[i]) continue;
        g_pending[i] = 0;
        bool heard = false;
        // By index: a callback may append subscriptions (the objects never move).
        for (std::size_t k = 0; k < signals_.size(); ++k) {
            if (!signals_[k]->active || signals_[k]->signo != kSignals[i]) continue;
            heard = true;
            signals_[k]->callback();
        }
        if (heard || kSignals[i] == SIGCHLD || old_actions_[i].sa_handler == SIG_IGN) continue;
        // Nobody asked for this interrupt: behave as the process would have without us.
        struct sigaction fallback {};
        fallback.sa_handler = SIG_DFL;
        sigaction(kSignals[i], &fallback, nullptr);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, kSignals[i]);
        raise(kSignals[i]);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    }
}

void EventLoop::dispatch_fds() {
    for (std::size_t k = 0; k < pollfds_.size(); ++k) {
        if (pollfds_[k].revents == 0) continue;
        Watch& w = *watches_[polled_[k]];
        if (w.active) w.callback(pollfds_[k].revents);  // skipped if unwatched meanwhile
    }
}

void EventLoop::dispatch_timers() {
    Clock::time_point now = Clock::now();
    // Timers armed by these callbacks wait for the next round even when already due, so a
    // callback that re-arms itself "now" cannot keep this loop from returning.
    TimerId first_new = next_timer_;
    std::vector<Timer> deferred;
    while (!heap_.empty() && heap_.front().when <= now) {
        Timer top = heap_.front();
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        heap_.pop_back();
        if (top.id >= first_new) {
            deferred.push_back(top);
            continue;
        }
        auto it = timer_callbacks_.find(top.id);
        if (it == timer_callbacks_.end()) continue;  // cancelled
        Callback callback = std::move(it->second);
        timer_callbacks_.erase(it);
        callback();
    }
    for (const Timer& t : deferred) {
        heap_.push_back(t);
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
}

void EventLoop::compact() {
    watches_.erase(std::remove_if(watches_.begin(), watches_.end(),
                                  [](const auto& w) { return !w->active; }),
                   watches_.end());
    signals_.erase(std::remove_if(signals_.begin(), signals_.end(),
                                  [](const auto& s) { return !s->active; }),
                   signals_.end());
}

bool EventLoop::run_once(std::optional<Clock::time_point> until) {
    bool has_signal = std::any_of(signals_.begin(), signals_.end(),
                                  [](const auto& s) { return s->active; });
    bool has_fd = std::any_of(watches_.begin(), watches_.end(),
                              [](const auto& w) { return w->active; });
    if (!has_fd && !has_signal && !until && !next_deadline()) return false;
    int ready = wait(until);
    dispatching_ = true;
    try {
        dispatch_signals();
        if (ready > 0) dispatch_fds();
        dispatch_timers();
    } catch (...) {
        dispatching_ = false;
        compact();
        throw;
    }
    dispatching_ = false;
    compact();
    return true;
}

bool EventLoop::run_until(const std::function<bool()>& done,
                          std::optional<Clock::time_point> deadline) {
    for (;;) {
        if (done()) return true;
        if (deadline && Clock::now() >= *deadline) return false;
        if (!run_once(deadline)) return done();
    }
}

}  // namespace amlflow::runtime
