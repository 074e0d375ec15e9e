// The harness of the end-to-end tests: amlflow started as a child process the way a
// person starts it (its own process group, stdin /dev/null, stdout and stderr into
// files, every wait bounded), in a sandbox folder with its own run store, and small
// readers of what it left behind. Shared by test_run_e2e.cc and test_results_e2e.cc.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/store/run_store.h"
#include "tests/unit/test_support.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// Small helpers

std::string amlflow_bin() {
    const char* path = std::getenv("AMLFLOW_BIN");
    return path && *path ? path : "";
}

fs::path source_dir() {
#ifdef AMLFLOW_SOURCE_DIR
    return AMLFLOW_SOURCE_DIR;
#else
    return fs::absolute(fs::path(__FILE__)).parent_path().parent_path().parent_path();
#endif
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Polls `ready` every 10 ms until it holds or `seconds` pass.
bool wait_until(const std::function<bool()>& ready, double seconds) {
    auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (!ready()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

// A process that runs: /proc/<pid> exists and is not a zombie. (Orphans are reparented to
// whoever reaps them; in a container that may be nobody, so a zombie counts as dead.)
bool process_alive(long pid) {
    if (pid <= 0) return false;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) return false;
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return false;
    char state = stat[close + 2];
    return state != 'Z' && state != 'X';
}

long read_pid(const fs::path& file) {
    std::string text = read_file(file);
    try {
        return std::stol(text);
    } catch (...) {
        return 0;
    }
}

bool have_torch() {
    pid_t pid = 0;
    const char* argv[] = {"/usr/bin/python3", "-c", "import torch", nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    int status = 0;
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// ---------------------------------------------------------------------------------------
// amlflow as a child process

struct Outcome {
    bool finished = false;  // it exited before its deadline
    bool signaled = false;
    int code = -1;
    int signal = 0;
    double seconds = 0;
    long max_rss_kb = 0;    // the peak resident size of amlflow (and of children it waited for)
    std::string out, err;
};

std::ostream& operator<<(std::ostream& o, const Outcome& r) {
    return o << "exit " << r.code << (r.signaled ? " (signal " + std::to_string(r.signal) + ")" : "")
             << (r.finished ? "" : " (did not finish)") << " after " << r.seconds << " s\n--- stdout (last 3000 chars):\n"
             << (r.out.size() > 3000 ? r.out.substr(r.out.size() - 3000) : r.out)
             << "\n--- stderr (last 3000 chars):\n" << (r.err.size() > 3000 ? r.err.substr(r.err.size() - 3000) : r.err);
}

// One amlflow process: posix_spawn'ed in its own process group, stdin from /dev/null,
// stdout and stderr into files. The destructor kills and reaps whatever is left.
class Amlflow {
public:
    Amlflow(const std::vector<std::string>& args, const fs::path& cwd, const std::map<std::string, std::string>& env,
            const fs::path& out, const fs::path& err)
        : out_(out), err_(err) {
        std::vector<std::string> argv = {amlflow_bin()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<std::string> envp;
        for (const auto& [key, value] : env) envp.push_back(key + "=" + value);
        std::vector<char*> cargv, cenvp;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        for (auto& e : envp) cenvp.push_back(e.data());
        cenvp.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setpgroup(&attr, 0);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        started_ = Clock::now();
        int rc = posix_spawn(&pid_, argv[0].c_str(), &actions, &attr, cargv.data(), cenvp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) {
            pid_ = -1;
            BOOST_ERROR("cannot start " << argv[0] << ": " << strerror(rc));
        }
    }
    ~Amlflow() {
        if (pid_ > 0 && !reaped_) {
            kill(-pid_, SIGKILL);
            int status;
            waitpid(pid_, &status, 0);
        }
    }
    Amlflow(const Amlflow&) = delete;
    Amlflow& operator=(const Amlflow&) = delete;

    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0 && !reaped_; }
    void signal(int sig) {
        if (running()) kill(pid_, sig);
    }

    // Waits at most `seconds`; past that, SIGKILLs amlflow (its ranks die with it through
    // the parent-death signal), reaps it and fails the test.
    Outcome wait(double seconds) {
        Outcome outcome;
        if (pid_ <= 0) return outcome;
        auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
        int status = 0;
        while (!reaped_) {
            struct rusage usage {};
            pid_t got = wait4(pid_, &status, WNOHANG, &usage);
            if (got == pid_) {
                reaped_ = true;
                outcome.finished = true;
                outcome.max_rss_kb = usage.ru_maxrss;
                break;
            }
            if (got < 0 && errno != EINTR) break;
            if (Clock::now() >= deadline) {
                kill(-pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                reaped_ = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        outcome.seconds = seconds_since(started_);
        outcome.signaled = WIFSIGNALED(status);
        outcome.signal = outcome.signaled ? WTERMSIG(status) : 0;
        outcome.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        outcome.out = read_file(out_);
        outcome.err = read_file(err_);
        if (!outcome.finished) {
            BOOST_ERROR("amlflow did not finish within " << seconds << " s; killed\n" << outcome);
        }
        return outcome;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    fs::path out_, err_;
    Clock::time_point started_;
};

// A pipeline's folder: the files, AMLFLOW_HOME = <folder>/home, and amlflow run in it.
class Sandbox {
public:
    bool set_home = true;  // AMLFLOW_HOME=<folder>/home; false: unset
    fs::path cwd;          // where amlflow runs; empty: the folder

    Sandbox() {
        BOOST_REQUIRE_MESSAGE(!amlflow_bin().empty() && fs::exists(amlflow_bin()),
                              "AMLFLOW_BIN must name the amlflow binary (it is '" << amlflow_bin() << "')");
    }

    const fs::path& root() const { return project_.root(); }
    fs::path home() const { return root() / "home"; }
    fs::path path(const std::string& relative) const { return root() / relative; }

    fs::path write(const std::string& relative, const std::string& text) const { return project_.write(relative, text); }

    // amlflow's environment: ours, without what would leak into the ranks' and change what
    // is tested, with AMLFLOW_HOME inside the sandbox, no live board, and no GPUs.
    std::map<std::string, std::string> environment() const {
        std::map<std::string, std::string> env;
        for (char** entry = environ; entry && *entry; ++entry) {
            std::string text = *entry;
            size_t equals = text.find('=');
            if (equals == std::string::npos) continue;
            std::string key = text.substr(0, equals);
            static const std::set<std::string> dropped = {"OMP_NUM_THREADS", "RANK", "LOCAL_RANK", "WORLD_SIZE",
                                                          "MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "GROUP_RANK"};
            if (dropped.count(key) || key.rfind("AMLFLOW_", 0) == 0 || key.rfind("TORCHELASTIC_", 0) == 0) continue;
            env[key] = text.substr(equals + 1);
        }
        if (set_home) env["AMLFLOW_HOME"] = home().string();
        env["NO_COLOR"] = "1";
        env["AMLFLOW_NO_BOARD"] = "1";
        env["AMLFLOW_GPUS"] = "none";  // slots are CPU cores, wherever the tests run
        if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        return env;
    }

    std::unique_ptr<Amlflow> start(const std::vector<std::string>& args) {
        ++runs_;
        fs::path out = root() / ("amlflow-" + std::to_string(runs_) + ".out");
        fs::path err = root() / ("amlflow-" + std::to_string(runs_) + ".err");
        return std::make_unique<Amlflow>(args, cwd.empty() ? root() : cwd, environment(), out, err);
    }

    Outcome run(const std::vector<std::string>& args, double timeout_s = 60) {
        auto process = start(args);
        return process->wait(timeout_s);
    }

    std::unique_ptr<RunStore> store() const {
        std::string error;
        fs::path folder = set_home ? home() : root() / ".amlflow";
        auto opened = RunStore::open(folder, &error, OpenMode::MustExist);
        BOOST_REQUIRE_MESSAGE(opened, "cannot open the run store in " << folder << ": " << error);
        return opened;
    }

    // The id of the one run in the store.
    std::string only_run() const {
        auto s = store();
        auto runs = s->list_runs(0);
        BOOST_REQUIRE(runs);
        BOOST_REQUIRE_EQUAL(runs->size(), 1u);
        return runs->front().id;
    }

private:
    amlflow::testing::TempProject project_;
    int runs_ = 0;
};

std::optional<StepRecord> step_record(RunStore& store, const std::string& run, const std::string& name) {
    auto steps = store.steps_of(run);
    if (!steps) return std::nullopt;
    for (const StepRecord& step : *steps) {
        if (step.name == name) return step;
    }
    return std::nullopt;
}

std::vector<AttemptRecord> attempts(RunStore& store, const std::string& run, const std::string& step) {
    auto found = store.attempts_of(run, step);
    return found ? *found : std::vector<AttemptRecord>{};
}

json failure_of(const AttemptRecord& attempt) {
    return json::parse(attempt.failure_json.empty() ? "{}" : attempt.failure_json, nullptr, false);
}

std::string quoted(const fs::path& path) { return json(path.string()).dump(); }  // an amlflow string literal

// The failure report's block for one step in stderr: from "error: step 'NAME'" to the
// next blank line.
std::string failure_report(const std::string& err, const std::string& step) {
    size_t at = err.find("error: step '" + step + "'");
    if (at == std::string::npos) return "";
    size_t end = err.find("\n\n", at);
    return err.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace

namespace amlflow::runtime {
inline std::ostream& operator<<(std::ostream& out, StepState state) { return out << to_string(state); }
inline std::ostream& operator<<(std::ostream& out, AttemptState state) { return out << to_string(state); }
inline std::ostream& operator<<(std::ostream& out, RunState state) { return out << to_string(state); }
}  // namespace amlflow::runtime
