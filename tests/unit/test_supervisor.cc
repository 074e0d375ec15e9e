// The local process supervisor with real processes and real signals: spawning, process
// groups, exits, the log relay, root causes, timeouts, hangs and the parent-death signal.
// Every wait is bounded by a loop deadline, so a broken supervisor fails, never hangs.
//
// AMLFLOW_LAUNCH names the amlflow-launch helper (the build sets it); without it the ranks
// are spawned directly and the parent-death test fails with a note saying so.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/core/event_loop.h"
#include "runtime/core/log_relay.h"
#include "runtime/core/process.h"
#include "runtime/local/rank_group.h"
#include "runtime/report/terminal_sink.h"

namespace amlflow::runtime {
inline std::ostream& operator<<(std::ostream& out, FailureKind kind) { return out << to_string(kind); }
}  // namespace amlflow::runtime

using namespace amlflow::runtime;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string launcher() {
    const char* path = std::getenv("AMLFLOW_LAUNCH");
    return path ? path : "";
}

std::vector<std::string> base_env() { return {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}; }

RankSpec rank(std::vector<std::string> argv, std::string log_path = "") {
    RankSpec spec;
    spec.argv = std::move(argv);
    spec.env = base_env();
    spec.log_path = std::move(log_path);
    return spec;
}

RankSpec sh(const std::string& script, std::string log_path = "") {
    return rank({"/bin/sh", "-c", script}, std::move(log_path));
}

RankSpec python(const std::string& code, std::string log_path = "") {
    return rank({"/usr/bin/python3", "-c", code}, std::move(log_path));
}

class TempDir {
public:
    TempDir() {
        char pattern[] = "/tmp/amlflow-sv-XXXXXX";
        path_ = mkdtemp(pattern);
    }
    ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

// Collects what the terminal would have shown.
class CollectSink : public LineSink {
public:
    void line(std::string_view prefix, Stream stream, std::string_view text) override {
        prefixes.emplace_back(prefix);
        streams.push_back(stream);
        lines.emplace_back(text);
    }
    std::vector<std::string> prefixes;
    std::vector<Stream> streams;
    std::vector<std::string> lines;
};

// True when this process has no child at all, zombie or alive.
bool no_children() {
    siginfo_t info{};
    return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

RankGroupOptions options() {
    RankGroupOptions o;
    o.launcher = launcher();
    o.grace = 2s;
    return o;
}

// The relay through pipes (AMLFLOW_LOG_LINES=1) instead of ranks writing their logs.
RankGroupOptions relay_options() {
    RankGroupOptions o = options();
    o.whole_lines = true;
    return o;
}

struct Result {
    GroupOutcome outcome;
    std::vector<std::string> lines;
    double seconds = 0;
};

Result run_group(std::vector<RankSpec> specs, RankGroupOptions opts = options(),
                 Clock::duration limit = 20s) {
    EventLoop loop;
    CollectSink sink;
    RankGroup group(loop, opts, &sink);
    auto begin = Clock::now();
    group.start(std::move(specs), nullptr);
    BOOST_REQUIRE_MESSAGE(loop.run_until([&] { return group.done(); }, begin + limit),
                          "the rank group did not finish in time");
    Result result{group.outcome(), sink.lines,
                  std::chrono::duration<double>(Clock::now() - begin).count()};
    return result;
}

// Runs one process to its exit with the loop, its output discarded.
ExitStatus run_process(const SpawnSpec& spec) {
    EventLoop loop;
    Process process(loop);
    std::string error;
    BOOST_REQUIRE_MESSAGE(process.start(spec, &error), error);
    close(process.take_stdout());
    close(process.take_stderr());
    BOOST_REQUIRE(loop.run_until([&] { return process.exited(); }, Clock::now() + 10s));
    process.reap();
    return process.status();
}

SpawnSpec spawn_spec(std::vector<std::string> argv) {
    return SpawnSpec{std::move(argv), base_env(), "", launcher()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(event_loop)

BOOST_AUTO_TEST_CASE(timers_fire_in_deadline_order_and_can_be_cancelled) {
    EventLoop loop;
    std::vector<int> fired;
    auto now = Clock::now();
    loop.at(now + 30ms, [&] { fired.push_back(3); });
    loop.at(now + 10ms, [&] { fired.push_back(1); });
    auto cancelled = loop.at(now + 20ms, [&] { fired.push_back(2); });
    loop.at(now + 5ms, [&] { loop.cancel(cancelled); });
    BOOST_REQUIRE(loop.run_until([&] { return fired.size() == 2; }, now + 2s));
    BOOST_TEST(fired == (std::vector<int>{1, 3}), boost::test_tools::per_element());
    BOOST_TEST((Clock::now() - now >= 30ms));
}

BOOST_AUTO_TEST_CASE(run_until_stops_at_its_deadline_without_spinning) {
    EventLoop loop;
    int fired = 0;
    loop.after(10s, [&] { ++fired; });
    auto begin = Clock::now();
    BOOST_TEST(!loop.run_until([] { return false; }, begin + 100ms));
    auto waited = Clock::now() - begin;
    BOOST_TEST((waited >= 100ms));
    BOOST_TEST((waited < 2s));
    BOOST_TEST(fired == 0);
}

BOOST_AUTO_TEST_CASE(fd_callbacks_and_unwatch) {
    EventLoop loop;
    int fds[2];
    BOOST_REQUIRE(pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    std::string got;
    loop.watch(fds[0], POLLIN, [&](short) {
        char buffer[16];
        ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
        loop.unwatch(fds[0]);
    });
    loop.after(20ms, [&] { BOOST_REQUIRE(write(fds[1], "hi", 2) == 2); });
    BOOST_REQUIRE(loop.run_until([&] { return got == "hi"; }, Clock::now() + 2s));
    BOOST_TEST(!loop.watching(fds[0]));
    close(fds[0]);
    close(fds[1]);
}

BOOST_AUTO_TEST_CASE(signals_wait_blocked_until_the_loop_waits) {
    EventLoop loop;
    int heard = 0;
    loop.on_signal(SIGTERM, [&] { ++heard; });
    raise(SIGTERM);  // blocked: pending, and this process is still alive
    BOOST_TEST(heard == 0);
    BOOST_REQUIRE(loop.run_until([&] { return heard == 1; }, Clock::now() + 2s));
    raise(SIGTERM);
    raise(SIGTERM);  // merged with the one before: one call
    BOOST_REQUIRE(loop.run_until([&] { return heard == 2; }, Clock::now() + 2s));
    BOOST_TEST(!loop.run_until([&] { return heard > 2; }, Clock::now() + 50ms));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(argv_reaches_the_child_unmodified) {
    std::vector<std::string> args = {"a b", "'single'", "\"double\"", "$HOME", "*", "back\\slash",
                                     "", "semi;colon", "tab\there"};
    std::vector<std::string> argv = {"/bin/sh", "-c", "for a in \"$@\"; do printf '<%s>\\n' \"$a\"; done",
                                     "sh"};
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = run_group({rank(argv)});
    BOOST_TEST(r.outcome.succeeded);
    BOOST_REQUIRE_EQUAL(r.lines.size(), args.size());
    for (std::size_t i = 0; i < args.size(); ++i) BOOST_TEST(r.lines[i] == "<" + args[i] + ">");
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(environment_is_exactly_the_given_one_and_cwd_is_set) {
    TempDir dir;
    setenv("AMLFLOW_TEST_LEAK", "leaked", 1);
    RankSpec spec = sh("echo \"$GREETING\"; pwd; echo \"leak=${AMLFLOW_TEST_LEAK-unset}\"");
    spec.env.push_back("GREETING=hello  world");
    spec.cwd = dir.path();
    Result r = run_group({spec});
    unsetenv("AMLFLOW_TEST_LEAK");
    BOOST_REQUIRE_EQUAL(r.lines.size(), 3u);
    BOOST_TEST(r.lines[0] == "hello  world");
    BOOST_TEST(r.lines[1] == dir.path());
    BOOST_TEST(r.lines[2] == "leak=unset");
}

BOOST_AUTO_TEST_CASE(stdin_is_dev_null) {
    Result r = run_group({sh("readlink /proc/self/fd/0; cat; echo end")});
    BOOST_TEST(r.outcome.succeeded);
    BOOST_TEST(r.lines == (std::vector<std::string>{"/dev/null", "end"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_process_leads_its_own_process_group) {
    EventLoop loop;
    Process a(loop), b(loop);
    std::string error;
    BOOST_REQUIRE_MESSAGE(a.start(spawn_spec({"sleep", "30"}), &error), error);
    BOOST_REQUIRE_MESSAGE(b.start(spawn_spec({"sleep", "30"}), &error), error);
    for (Process* p : {&a, &b}) {
        BOOST_TEST(getpgid(p->pid()) == p->pid());
        BOOST_TEST(getpgid(p->pid()) != getpgrp());
        // And as the kernel reports it: field 5 of /proc/<pid>/stat is the pgrp.
        std::string stat = read_file("/proc/" + std::to_string(p->pid()) + "/stat");
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string state;
        long ppid = 0, pgrp = 0;
        fields >> state >> ppid >> pgrp;
        BOOST_TEST(pgrp == p->pid());
        BOOST_TEST(ppid == getpid());
        p->stop(0s);
    }
    BOOST_REQUIRE(loop.run_until([&] { return a.exited() && b.exited(); }, Clock::now() + 5s));
    BOOST_TEST(a.status().signaled);
    BOOST_TEST(a.status().signal == SIGKILL);
    a.reap();
    b.reap();
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(exit_codes_and_signals_are_reported) {
    ExitStatus ok = run_process(spawn_spec({"/bin/sh", "-c", "exit 0"}));
    BOOST_TEST(ok.success());
    ExitStatus three = run_process(spawn_spec({"/bin/sh", "-c", "exit 3"}));
    BOOST_TEST(!three.signaled);
    BOOST_TEST(three.code == 3);
    BOOST_TEST(three.describe() == "exit code 3");
    ExitStatus killed = run_process(spawn_spec({"/bin/sh", "-c", "kill -KILL $$"}));
    BOOST_TEST(killed.signaled);
    BOOST_TEST(killed.signal == SIGKILL);
    BOOST_TEST(killed.describe() == "signal 9 (SIGKILL)");
    ExitStatus segv = run_process(spawn_spec({"/bin/sh", "-c", "kill -SEGV $$"}));
    BOOST_TEST(segv.signaled);
    BOOST_TEST(segv.signal == SIGSEGV);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(a_missing_program_is_exit_127_with_a_message) {
    Result r = run_group({rank({"amlflow-no-such-program", "x"})});
    BOOST_TEST(!r.outcome.succeeded);
    if (!launcher().empty()) {
        BOOST_TEST(r.outcome.failure.kind == FailureKind::exit_code);
        BOOST_TEST(r.outcome.failure.status.code == 127);
        BOOST_REQUIRE_EQUAL(r.outcome.tail.size(), 1u);
        BOOST_TEST(r.outcome.tail[0] ==
                   "amlflow-launch: cannot run 'amlflow-no-such-program': No such file or directory");
    } else {
        BOOST_TEST(r.outcome.failure.kind == FailureKind::spawn);
    }
}

BOOST_AUTO_TEST_CASE(the_launcher_is_found_beside_the_executable) {
    // The test binary has none beside it unless the build put one there; either way the
    // answer is an executable amlflow-launch or "".
    std::string found = launcher_beside_executable();
    BOOST_TEST((found.empty() || found.size() > std::string("/amlflow-launch").size()));
    if (!found.empty()) BOOST_TEST(access(found.c_str(), X_OK) == 0);
}

BOOST_AUTO_TEST_CASE(a_missing_working_directory_fails_the_start) {
    EventLoop loop;
    RankGroup group(loop, options());
    RankSpec spec = sh("true");
    spec.cwd = "/nonexistent/amlflow-dir";
    std::string error;
    BOOST_TEST(!group.start({sh("sleep 30"), spec, sh("true")}, &error));
    BOOST_TEST(error.find("/nonexistent/amlflow-dir") != std::string::npos);
    BOOST_REQUIRE(loop.run_until([&] { return group.done(); }, Clock::now() + 5s));
    BOOST_TEST(group.outcome().failure.kind == FailureKind::spawn);
    BOOST_TEST(group.outcome().failure.rank == 1);
    BOOST_REQUIRE_EQUAL(group.outcome().exits.size(), 1u);  // rank 0, stopped
    BOOST_TEST(group.outcome().exits[0].status.signal == SIGTERM);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(stop_reaches_the_whole_process_group) {
    // The background sleeps hold the pipe: unless TERM reaches them too, the group would
    // only end after `linger`.
    RankGroupOptions o = options();
    o.linger = 20s;
    o.timeout = 200ms;
    Result r = run_group({sh("sleep 30 & sleep 30 & echo started; wait")}, o);
    BOOST_TEST(r.outcome.failure.kind == FailureKind::timeout);
    BOOST_TEST(r.seconds < 5);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(log_relay)

BOOST_AUTO_TEST_CASE(progress_redraws_collapse_and_partial_lines_flush) {
    TempDir dir;
    std::string log = dir.file("rank0.log");
    Result r = run_group({sh("printf 'start\\n  0%%\\r 50%%\\r100%%\\nnext\\r\\nabc\\rfinal'", log)}, relay_options());
    std::vector<std::string> expected = {"start", "100%", "next", "final"};
    BOOST_TEST(r.lines == expected, boost::test_tools::per_element());
    BOOST_TEST(read_file(log) == "start\n100%\nnext\nfinal\n");
}

// A launcher's known noise (Open MPI's setpgid race) reaches its log file, not the display.
BOOST_AUTO_TEST_CASE(file_only_lines_reach_the_log_but_not_the_display) {
    TempDir dir;
    EventLoop loop;
    CollectSink sink;
    LogRelayOptions options;
    options.label = "train mpirun";
    options.path = dir.file("mpirun.log");
    options.file_only = {"plm:rsh: Warning: setpgid("};
    {
        LogRelay relay(loop, options, &sink);
        std::string error;
        BOOST_REQUIRE_MESSAGE(relay.open(&error), error);
        relay.write(Stream::err, "[h1:42] plm:rsh: Warning: setpgid(43,43) failed in parent with errno=Permission denied\n");
        relay.write(Stream::err, "mpirun noticed that process rank 1 exited\n");
        relay.end(Stream::err);
        relay.finish();
    }
    BOOST_TEST(sink.lines == (std::vector<std::string>{"mpirun noticed that process rank 1 exited"}),
               boost::test_tools::per_element());
    std::string written = read_file(options.path);
    BOOST_TEST(written.find("setpgid(43,43) failed") != std::string::npos, written);
    BOOST_TEST(written.find("mpirun noticed") != std::string::npos, written);
}

BOOST_AUTO_TEST_CASE(carriage_returns_across_reads) {
    // Each write is its own read: the decision about a "\r" waits for the next byte.
    std::string code =
        "import sys, time\n"
        "for part in ['a 10%\\r', 'a 90%\\r', '\\n', 'b\\r', '\\r', 'c\\r\\n', 'tail']:\n"
        "    sys.stdout.write(part); sys.stdout.flush(); time.sleep(0.02)\n";
    Result r = run_group({python(code)});
    // "b" is redrawn as "c" (the lone "\r" between them changes nothing).
    BOOST_TEST(r.lines == (std::vector<std::string>{"a 90%", "c", "tail"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(overlong_lines_are_split) {
    Result r = run_group({python("import sys; sys.stdout.write('x' * 200000 + '\\nend\\n')")});
    BOOST_REQUIRE_EQUAL(r.lines.size(), 5u);
    BOOST_TEST(r.lines[0].size() == 65536u);
    BOOST_TEST(r.lines[1].size() == 65536u);
    BOOST_TEST(r.lines[2].size() == 65536u);
    BOOST_TEST(r.lines[3].size() == 200000u - 3 * 65536u);
    BOOST_TEST(r.lines[4] == "end");
}

BOOST_AUTO_TEST_CASE(interleaved_streams_keep_lines_whole_and_in_order) {
    TempDir dir;
    std::string log = dir.file("rank0.log");
    // Lines up to 40 KiB, written unbuffered to both pipes, so many lines arrive in pieces.
    std::string code =
        "import os\n"
        "for i in range(3000):\n"
        "    fd = 2 if i % 3 == 0 else 1\n"
        "    tag = 'err' if fd == 2 else 'out'\n"
        "    body = tag[0] * ((i * 7919) % 40000)\n"
        "    data = ('%s %d %s %d\\n' % (tag, i, body, len(body))).encode()\n"
        "    while data:\n"
        "        data = data[os.write(fd, data):]\n"
        "os.write(1, b'last line')\n";
    std::string log_at_exit;
    EventLoop loop;
    CollectSink sink;
    RankGroup group(loop, relay_options(), &sink);
    group.on_rank_exit([&](const RankExit&) { log_at_exit = read_file(log); });
    group.start({python(code, log)}, nullptr);
    BOOST_REQUIRE(loop.run_until([&] { return group.done(); }, Clock::now() + 30s));
    BOOST_TEST(group.outcome().succeeded);

    std::string text = read_file(log);
    BOOST_TEST(log_at_exit == text);  // complete when the exit was reported
    std::vector<std::string> lines = split_lines(text);
    BOOST_TEST(lines == sink.lines, boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(lines.size(), 3001u);
    BOOST_TEST(lines.back() == "last line");
    int next_out = 1, next_err = 0, broken = 0;
    for (std::size_t k = 0; k + 1 < lines.size(); ++k) {
        // "<tag> <i> <body> <length of body>", the body possibly empty.
        const std::string& line = lines[k];
        std::size_t first = line.find(' '), second = line.find(' ', first + 1), last = line.rfind(' ');
        BOOST_REQUIRE(first != std::string::npos && second != std::string::npos && last >= second);
        std::string tag = line.substr(0, first);
        int i = std::stoi(line.substr(first + 1, second - first - 1));
        std::string body = line.substr(second + 1, last - second - 1);
        std::size_t length = std::stoul(line.substr(last + 1));
        bool whole = body.size() == length && body.find_first_not_of(tag[0]) == std::string::npos;
        if (!whole) ++broken;
        if (tag == "out") {
            BOOST_CHECK_EQUAL(i, next_out);
            next_out = i + 1 + ((i + 1) % 3 == 0 ? 1 : 0);
        } else {
            BOOST_CHECK_EQUAL(i, next_err);
            next_err = i + 3;
        }
    }
    BOOST_TEST(broken == 0);
    BOOST_TEST(no_children());
}

// A display that has had its share: the relay writes whole reads to the log unsplit.
class SkippingSink : public LineSink {
public:
    void line(std::string_view, Stream, std::string_view) override {}
    bool accepting() override { return false; }
};

long resident_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

BOOST_AUTO_TEST_CASE(a_log_that_cannot_keep_up_holds_the_rank_back_not_the_memory) {
    // The log is a FIFO that nobody reads for a while: the writer thread blocks in write(),
    // its blocks fill, the loop stops reading the pipe, and the rank blocks in its own
    // write(). 48 MiB is far more than the pipe, the FIFO and the writer's blocks hold, so
    // the rank cannot have finished while the FIFO is unread, however long it is left.
    TempDir dir;
    std::string log = dir.file("rank0.log"), done = dir.file("done");
    BOOST_REQUIRE(mkfifo(log.c_str(), 0600) == 0);
    const int chunks = 768;  // of 64 KiB: 1,024 lines of 64 bytes, the chunk's number in each
    std::string code =
        "import os\n"
        "for k in range(" + std::to_string(chunks) + "):\n"
        "    data = (b'%08d ' % k + b'x' * 54 + b'\\n') * 1024\n"
        "    while data:\n"
        "        data = data[os.write(1, data):]\n"
        "open('" + done + "', 'w').close()\n";
    bool done_while_unread = true;
    long grown_kib = -1;
    std::string logged;
    EventLoop loop;  // before the thread, which then inherits the loop's blocked signals
    long before = resident_kib();
    std::thread reader([&] {
        int fd = open(log.c_str(), O_RDONLY);  // returns once the relay has opened the log
        if (fd < 0) return;
        std::this_thread::sleep_for(1s);  // time for a relay without backpressure to run ahead
        done_while_unread = access(done.c_str(), F_OK) == 0;
        grown_kib = resident_kib() - before;
        char buffer[1 << 16];
        for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) logged.append(buffer, static_cast<std::size_t>(n));
        close(fd);
    });
    SkippingSink sink;
    RankGroup group(loop, relay_options(), &sink);
    group.start({python(code, log)}, nullptr);
    bool finished = loop.run_until([&] { return group.done(); }, Clock::now() + 60s);
    reader.join();
    BOOST_REQUIRE(finished);
    BOOST_TEST(group.outcome().succeeded);
    BOOST_TEST(!done_while_unread);
    BOOST_TEST(grown_kib >= 0);
    BOOST_TEST(grown_kib < 24 * 1024, "resident memory grew by " << grown_kib << " KiB");
    BOOST_REQUIRE_EQUAL(logged.size(), static_cast<std::size_t>(chunks) * 65536);
    int wrong = 0;
    for (int k = 0; k < chunks; ++k) {
        char head[16];
        std::snprintf(head, sizeof head, "%08d ", k);
        std::string line = head + std::string(54, 'x') + "\n";
        for (int i = 0; i < 1024; ++i) {
            if (logged.compare((static_cast<std::size_t>(k) * 1024 + i) * 64, 64, line) != 0) ++wrong;
        }
    }
    BOOST_TEST(wrong == 0, wrong << " lines not where they belong");
}

BOOST_AUTO_TEST_CASE(terminal_sink_prefixes_and_colours) {
    int fds[2];
    BOOST_REQUIRE(pipe(fds) == 0);
    {
        TerminalSink plain(fds[1], TerminalSink::Colour::automatic);  // a pipe: no colour
        BOOST_TEST(!plain.coloured());
        std::string prefix = plain.prefix("train 1", 1);
        BOOST_TEST(prefix == "[train 1] ");
        plain.line(prefix, Stream::out, "hello");
        plain.flush();
        TerminalSink coloured(fds[1], TerminalSink::Colour::always);
        std::string p = coloured.prefix("train 1", 1);
        BOOST_TEST(p.find("\x1b[") == 0u);
        BOOST_TEST(p.find("[train 1]") != std::string::npos);
    }
    close(fds[1]);
    char buffer[64] = {};
    BOOST_TEST(read(fds[0], buffer, sizeof buffer - 1) == 16);
    BOOST_TEST(std::string(buffer) == "[train 1] hello\n");
    close(fds[0]);
}

BOOST_AUTO_TEST_SUITE_END()

// Ranks that write their log files themselves (the default; core/log_tail.h).
BOOST_AUTO_TEST_SUITE(log_tail)

BOOST_AUTO_TEST_CASE(a_rank_writes_its_log_byte_for_byte_also_when_killed_mid_line) {
    TempDir dir;
    std::string log = dir.file("rank0.log");
    // Pieces of lines on stdout, whole lines on stderr between them, "\r" redraws, then a
    // last piece without its "\n" and a SIGKILL. The script prints what it wrote, in order.
    std::string code =
        "import os, signal\n"
        "expected = []\n"
        "for i in range(2000):\n"
        "    fd = 2 if i % 5 == 0 else 1\n"
        "    data = b'%s %05d %s\\n' % (b'err' if fd == 2 else b'out', i, b'y' * (i * 37 % 3000))\n"
        "    if fd == 1 and i % 3 == 0: data = b'bar 10%\\rbar 99%\\r' + data\n"
        "    pieces = [data] if fd == 2 else [data[:len(data) // 2], data[len(data) // 2:]]\n"
        "    for piece in pieces:\n"
        "        os.write(fd, piece)\n"
        "        expected.append(piece)\n"
        "os.write(1, b'cut short')\n"
        "expected.append(b'cut short')\n"
        "open('" + dir.file("expected") + "', 'wb').write(b''.join(expected))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n";
    std::string log_at_exit;
    EventLoop loop;
    CollectSink sink;
    RankGroup group(loop, options(), &sink);
    group.on_rank_exit([&](const RankExit&) { log_at_exit = read_file(log); });
    group.start({python(code, log)}, nullptr);
    BOOST_REQUIRE(loop.run_until([&] { return group.done(); }, Clock::now() + 30s));
    BOOST_TEST(group.outcome().failure.status.signal == SIGKILL);

    std::string expected = read_file(dir.file("expected"));
    BOOST_REQUIRE(expected.size() > 1000000u);
    BOOST_TEST(log_at_exit == expected);               // complete when the exit was reported
    BOOST_TEST(read_file(log) == expected + "\n");     // the cut line ended afterwards
    // The display: the file's lines, each redrawn bar at its last state.
    std::vector<std::string> shown;
    for (std::string line : split_lines(expected)) {
        std::size_t cr = line.rfind('\r');
        shown.push_back(cr == std::string::npos ? line : line.substr(cr + 1));
    }
    BOOST_TEST(sink.lines == shown, boost::test_tools::per_element());
    BOOST_REQUIRE(!group.outcome().tail.empty());
    BOOST_TEST(group.outcome().tail.back() == "cut short");
    BOOST_TEST(group.outcome().tail.size() <= 50u);
    BOOST_TEST(no_children());
}

// A display that takes lines in bursts: it refuses now and then, as the terminal does once
// it has shown its share of a second.
class BurstySink : public LineSink {
public:
    void line(std::string_view, Stream, std::string_view text) override {
        lines.emplace_back(text);
        if (++in_burst == 300) refusals = 3, in_burst = 0;
    }
    bool accepting() override {
        if (refusals == 0) return true;
        --refusals;
        return false;
    }
    void skipped(std::string_view, std::size_t bytes) override { skipped_bytes += bytes; }
    std::vector<std::string> lines;
    std::size_t skipped_bytes = 0;
    int in_burst = 0, refusals = 0;
};

BOOST_AUTO_TEST_CASE(a_display_that_skips_resumes_at_a_line_start) {
    TempDir dir;
    std::string log = dir.file("rank0.log");
    // Lines in writes that cut them anywhere, slowly enough for the display to come back.
    std::string code =
        "import os, time\n"
        "out = b''.join(b'line %06d %s %d\\n' % (i, b'z' * (i % 97), i % 97) for i in range(60000))\n"
        "for at in range(0, len(out), 5000):\n"
        "    os.write(1, out[at:at + 5000])\n"
        "    if at % 200000 == 0: time.sleep(0.01)\n";
    EventLoop loop;
    BurstySink sink;
    RankGroup group(loop, options(), &sink);
    group.start({python(code, log)}, nullptr);
    BOOST_REQUIRE(loop.run_until([&] { return group.done(); }, Clock::now() + 60s));
    BOOST_TEST(group.outcome().succeeded);
    BOOST_TEST(split_lines(read_file(log)).size() == 60000u);  // the log has every line
    BOOST_TEST(sink.skipped_bytes > 0u);
    BOOST_TEST(sink.lines.size() < 60000u);
    // Every line shown is a whole line of the file, in order: none begins mid-line.
    int previous = -1, broken = 0;
    for (const std::string& line : sink.lines) {
        int i = -1, length = -1;
        char z[128] = {};
        bool parsed = std::sscanf(line.c_str(), "line %6d %127s %d", &i, z, &length) >= 2;
        std::size_t zs = line.size() > 12 ? line.find_first_not_of('z', 12) - 12 : 0;
        if (!parsed || i <= previous || static_cast<int>(zs) != i % 97 ||
            line != "line " + std::string(6 - std::min<std::size_t>(6, std::to_string(i).size()), '0') +
                        std::to_string(i) + " " + std::string(static_cast<std::size_t>(i % 97), 'z') + " " +
                        std::to_string(i % 97)) {
            ++broken;
        }
        previous = i;
    }
    BOOST_TEST(broken == 0);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(hang_detection_watches_the_file_grow) {
    TempDir dir;
    RankGroupOptions o = options();
    o.hang_timeout = 500ms;
    RankSpec chatty = python("import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.05)\n",
                             dir.file("chatty.log"));
    RankSpec silent = sh("echo started; exec sleep 30", dir.file("silent.log"));
    Result r = run_group({chatty, silent}, o);
    BOOST_TEST(r.outcome.failure.kind == FailureKind::hang);
    BOOST_TEST(r.outcome.failure.rank == 1);
    BOOST_TEST(r.outcome.tail == (std::vector<std::string>{"started"}), boost::test_tools::per_element());
    BOOST_TEST(r.seconds < 4.0);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(what_a_rank_leaves_in_its_group_ends_with_it) {
    // No pipe to wait for: the background sleep, which holds the log open, goes at once.
    TempDir dir;
    RankGroupOptions o = options();
    o.linger = 20s;
    Result r = run_group({sh("sleep 30 & echo started", dir.file("rank0.log"))}, o);
    BOOST_TEST(r.outcome.succeeded);
    BOOST_TEST(r.seconds < 5);
    BOOST_TEST(read_file(dir.file("rank0.log")) == "started\n");
    BOOST_TEST(r.lines == (std::vector<std::string>{"started"}), boost::test_tools::per_element());
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rank_group)

BOOST_AUTO_TEST_CASE(first_failure_is_the_root_cause_and_the_rest_are_stopped) {
    TempDir dir;
    RankGroupOptions o = options();
    o.grace = 400ms;
    RankSpec waits = rank({"sleep", "30"});
    RankSpec fails = sh("echo about to fail; while [ ! -e ready ]; do sleep 0.02; done; "
                        "echo failing >&2; exit 7");
    RankSpec stubborn = python(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open('ready', 'w').close()\n"
        "print('ignoring TERM', flush=True)\n"
        "time.sleep(30)\n");
    for (RankSpec* s : {&waits, &fails, &stubborn}) s->cwd = dir.path();

    EventLoop loop;
    CollectSink sink;
    RankGroup group(loop, o, &sink);
    std::size_t exits_at_failure = 99;
    Clock::time_point failed_at, stubborn_exit;
    std::vector<int> order;
    group.on_failure([&](const Failure& f) {
        exits_at_failure = order.size();
        failed_at = Clock::now();
        BOOST_TEST(f.rank == 1);
    });
    group.on_rank_exit([&](const RankExit& e) {
        order.push_back(e.rank);
        if (e.rank == 2) stubborn_exit = e.when;
    });
    BOOST_REQUIRE(group.start({waits, fails, stubborn}, nullptr));
    BOOST_REQUIRE(loop.run_until([&] { return group.done(); }, Clock::now() + 20s));

    const GroupOutcome& out = group.outcome();
    BOOST_TEST(!out.succeeded);
    BOOST_TEST(out.failure.kind == FailureKind::exit_code);
    BOOST_TEST(out.failure.rank == 1);
    BOOST_TEST(out.failure.status.code == 7);
    BOOST_TEST(out.failure.message == "rank 1 exited with code 7");
    BOOST_TEST(out.tail == (std::vector<std::string>{"about to fail", "failing"}),
               boost::test_tools::per_element());
    BOOST_TEST(exits_at_failure == 1u);  // its own exit only
    BOOST_REQUIRE_EQUAL(order.size(), 3u);
    BOOST_TEST(order[0] == 1);  // the others were still running when it failed
    BOOST_REQUIRE_EQUAL(out.exits.size(), 3u);
    for (const RankExit& e : out.exits) {
        if (e.rank == 0) BOOST_TEST(e.status.signal == SIGTERM);
        if (e.rank == 2) BOOST_TEST(e.status.signal == SIGKILL);  // after the grace period
    }
    double waited = std::chrono::duration<double>(stubborn_exit - failed_at).count();
    BOOST_TEST(waited >= 0.35);
    BOOST_TEST(waited < 3.0);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(the_attempt_timeout_fires_from_a_timer) {
    RankGroupOptions o = options();
    o.timeout = 300ms;
    Result r = run_group({rank({"sleep", "30"}), rank({"sleep", "30"})}, o);
    BOOST_TEST(r.outcome.failure.kind == FailureKind::timeout);
    BOOST_TEST(r.outcome.failure.rank == -1);
    BOOST_TEST(r.seconds >= 0.29);
    BOOST_TEST(r.seconds < 3.0);
    BOOST_REQUIRE_EQUAL(r.outcome.exits.size(), 2u);
    BOOST_TEST(r.outcome.exits[0].status.signal == SIGTERM);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(a_silent_rank_is_a_hang_and_a_chatty_one_is_not) {
    RankGroupOptions o = options();
    o.hang_timeout = 500ms;
    RankSpec chatty = python("import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.05)\n");
    RankSpec silent = sh("echo started; exec sleep 30");
    Result r = run_group({chatty, silent}, o);
    BOOST_TEST(r.outcome.failure.kind == FailureKind::hang);
    BOOST_TEST(r.outcome.failure.rank == 1);
    BOOST_TEST(r.outcome.failure.message == "rank 1 wrote no output for 0.5 s");
    BOOST_TEST(r.outcome.tail == (std::vector<std::string>{"started"}), boost::test_tools::per_element());
    BOOST_TEST(r.seconds >= 0.49);
    BOOST_TEST(r.seconds < 4.0);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(a_segfault_and_a_sigkill_are_signals) {
    Result segv = run_group({rank({"sleep", "30"}), sh("echo crashing; kill -SEGV $$")});
    BOOST_TEST(segv.outcome.failure.kind == FailureKind::signal);
    BOOST_TEST(segv.outcome.failure.rank == 1);
    BOOST_TEST(segv.outcome.failure.status.signal == SIGSEGV);
    BOOST_TEST(segv.outcome.failure.message.find("rank 1 was killed by signal 11 (SIGSEGV)") == 0u);
    Result killed = run_group({sh("kill -KILL $$")});
    BOOST_TEST(killed.outcome.failure.status.signal == SIGKILL);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(all_ranks_exiting_zero_is_success) {
    TempDir dir;
    std::vector<RankSpec> specs;
    for (int i = 0; i < 4; ++i) {
        specs.push_back(sh("echo rank $RANK; echo to stderr >&2", dir.file("r" + std::to_string(i) + ".log")));
        specs.back().env.push_back("RANK=" + std::to_string(i));
        specs.back().label = "train " + std::to_string(i);
    }
    Result r = run_group(specs);
    BOOST_TEST(r.outcome.succeeded);
    BOOST_TEST(r.outcome.failure.kind == FailureKind::none);
    BOOST_TEST(r.outcome.exits.size() == 4u);
    for (int i = 0; i < 4; ++i) {
        BOOST_TEST(read_file(dir.file("r" + std::to_string(i) + ".log")) ==
                   "rank " + std::to_string(i) + "\nto stderr\n");
    }
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_CASE(ranks_die_with_the_interpreter) {
    std::string launch = launcher();
    BOOST_REQUIRE_MESSAGE(!launch.empty(), "set AMLFLOW_LAUNCH to the amlflow-launch helper");
    // Orphans come to us instead of init, so their deaths can be seen (and reaped) here.
    BOOST_REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int report[2];
    BOOST_REQUIRE(pipe2(report, O_CLOEXEC) == 0);
    pid_t middle = fork();
    BOOST_REQUIRE(middle >= 0);
    if (middle == 0) {
        // A stand-in interpreter: two ranks through the launcher, one spawned directly.
        close(report[0]);
        EventLoop loop;
        Process a(loop), b(loop), direct(loop);
        bool ok = a.start(spawn_spec({"sleep", "60"}), nullptr) &&
                  b.start(spawn_spec({"sleep", "60"}), nullptr) &&
                  direct.start(SpawnSpec{{"sleep", "60"}, base_env(), "", ""}, nullptr);
        pid_t pids[3] = {ok ? a.pid() : -1, b.pid(), direct.pid()};
        if (write(report[1], pids, sizeof pids) != sizeof pids) _exit(1);
        for (;;) pause();  // until SIGKILLed
    }
    close(report[1]);
    pid_t pids[3] = {-1, -1, -1};
    pollfd ready{report[0], POLLIN, 0};
    bool got = poll(&ready, 1, 10000) == 1 && read(report[0], pids, sizeof pids) == sizeof pids;
    close(report[0]);
    kill(middle, SIGKILL);
    waitpid(middle, nullptr, 0);
    BOOST_REQUIRE(got && pids[0] > 0);

    EventLoop loop;
    int status[2] = {0, 0};
    int reaped = 0;
    auto collect = [&] {
        for (int i = 0; i < 2; ++i) {
            if (pids[i] > 0 && waitpid(pids[i], &status[i], WNOHANG) == pids[i]) {
                pids[i] = -pids[i];
                ++reaped;
            }
        }
    };
    loop.on_signal(SIGCHLD, collect);
    collect();  // deaths before the loop existed
    bool gone = loop.run_until([&] { return reaped == 2; }, Clock::now() + 2s);
    // The directly spawned one has no parent-death signal: it is alive, the control case.
    bool control_alive = kill(pids[2], 0) == 0;
    kill(pids[2], SIGKILL);
    waitpid(pids[2], nullptr, 0);
    for (int i = 0; i < 2; ++i) {
        if (pids[i] > 0) {  // still alive: clean up before failing
            kill(pids[i], SIGKILL);
            waitpid(pids[i], nullptr, 0);
        }
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    BOOST_TEST(gone);
    for (int i = 0; i < 2; ++i) {
        BOOST_TEST(WIFSIGNALED(status[i]));
        BOOST_TEST(WTERMSIG(status[i]) == SIGKILL);
    }
    BOOST_TEST(control_alive);
    BOOST_TEST(no_children());
}

BOOST_AUTO_TEST_SUITE_END()
