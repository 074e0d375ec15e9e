// The one event loop of the interpreter: every wait in the runtime is a ppoll here.
//
// It multiplexes three kinds of events, so that supervising any number of processes
// needs no threads, no sleeps and no polling intervals:
//   - file descriptors (the ranks' output pipes) with a callback on readiness;
//   - deadlines (attempt timeouts, hang detection, TERM-then-KILL grace periods) kept in
//     a min-heap, each cancellable by id;
//   - the signals SIGCHLD, SIGINT and SIGTERM.
//
// Signals, as ninja does it: the constructor blocks those three in the calling thread and
// installs handlers that only set a flag; ppoll's sigmask argument unblocks them for the
// duration of the wait and nowhere else. A signal that arrives while callbacks run stays
// pending and interrupts the next ppoll at once, so none is lost and no handler ever runs
// in the middle of runtime code. Threads created after the loop inherit the blocked mask,
// which is what keeps the signals from being delivered to them instead: construct the
// loop in main before starting any thread.
//
// One loop per process (the signal flags are process-wide); a second concurrent
// EventLoop throws std::logic_error. Not thread-safe: use it from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <poll.h>
#include <signal.h>

namespace amlflow::runtime {

class EventLoop {
public:
    using Clock = std::chrono::steady_clock;
    using TimerId = std::uint64_t;       // 0 is never a valid id
    using SignalId = std::uint64_t;      // 0 is never a valid id
    using FdCallback = std::function<void(short revents)>;
    using Callback = std::function<void()>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Calls `callback(revents)` whenever `fd` is ready for `events` (POLLIN, ...). POLLHUP
    // and POLLERR are always reported. One watch per fd: watching it again replaces the
    // callback. The loop never closes the fd; unwatch it before closing it. Callbacks may
    // add and remove watches, timers and signal callbacks freely.
    void watch(int fd, short events, FdCallback callback);
    void unwatch(int fd);
    bool watching(int fd) const;

    // Runs `callback` once, at or soon after `when`. Timers due in the same round run in
    // deadline order, after the fd callbacks of that round (so output that arrived just in
    // time is seen before a hang timer judges it). cancel() of a fired, cancelled or
    // unknown id is a no-op.
    TimerId at(Clock::time_point when, Callback callback);
    TimerId after(Clock::duration delay, Callback callback);
    void cancel(TimerId id);

    // Calls `callback` after `signo` (SIGCHLD, SIGINT or SIGTERM) was delivered; several
    // deliveries before the loop looks are one call, as the kernel merges them too. A
    // SIGINT or SIGTERM that arrives while nothing listens for it gets its default action
    // (the process dies as it would have without the loop).
    SignalId on_signal(int signo, Callback callback);
    void remove_signal(SignalId id);

    // Waits for one round of events and dispatches them: signals, then ready fds, then
    // due timers. Waits no later than `until` when given. Returns false without waiting
    // when there is nothing to wait for (no fd, no timer, no signal callback, no `until`).
    bool run_once(std::optional<Clock::time_point> until = std::nullopt);

    // Dispatches rounds until `done()` holds (true) or `deadline` passes (false). `done`
    // is checked before the first wait and after every round. Also returns false when
    // there is nothing left to wait for and `done()` still does not hold.
    bool run_until(const std::function<bool()>& done,
                   std::optional<Clock::time_point> deadline = std::nullopt);

private:
    struct Watch {
        int fd;
        short events;
        bool active;
        FdCallback callback;
    };
    struct Timer {
        Clock::time_point when;
        TimerId id;
        bool operator>(const Timer& other) const {
            return when != other.when ? when > other.when : id > other.id;
        }
    };
    struct SignalSubscription {
        SignalId id;
        int signo;
        bool active;
        Callback callback;
    };

    int wait(std::optional<Clock::time_point> until);
    void dispatch_signals();
    void dispatch_fds();
    void dispatch_timers();
    void compact();
    std::optional<Clock::time_point> next_deadline();

    // unique_ptr so a callback that adds a watch cannot move the one that is running.
    std::vector<std::unique_ptr<Watch>> watches_;
    std::vector<std::unique_ptr<SignalSubscription>> signals_;
    std::vector<Timer> heap_;  // std::push_heap with greater<>: earliest on top
    std::unordered_map<TimerId, Callback> timer_callbacks_;  // live timers only
    std::vector<pollfd> pollfds_;
    std::vector<std::size_t> polled_;  // watches_ index of each pollfds_ entry
    TimerId next_timer_ = 1;
    SignalId next_signal_ = 1;
    bool dispatching_ = false;
    sigset_t old_mask_;
    sigset_t wait_mask_;
    struct sigaction old_actions_[3];
};

}  // namespace amlflow::runtime
