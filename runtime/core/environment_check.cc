#include "runtime/core/environment_check.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>

extern char** environ;

namespace amlflow::runtime {

namespace fs = std::filesystem;

namespace {

// Answers, in one line after a marker (a .pth file's code may print too), which
// requirements (by distribution name) `python` cannot find, and the paths that answer
// rests on (environment_stamp.h). importlib.metadata reads the installed metadata without
// importing anything. sys.path[0] of `-c` is amlflow's working folder, which no rank
// runs in: it is left out, so the answer does not depend on where amlflow was started.
constexpr const char* kMarker = "amlflow-environment-check ";
std::string check_program() {
    return requirements_probe_python() +
           "missing, watch = probe(sys.argv[1:], [])\n"
           "executable = os.path.realpath(sys.executable) if sys.executable else ''\n"
           "print('" + std::string(kMarker) + "' + json.dumps({'missing': missing, 'watch': watch, 'executable': executable}))\n";
}

}  // namespace

std::string requirements_probe_python() {
    return "import json, os, site, sys\n"
           "from importlib import metadata\n"
           "if sys.path and sys.path[0] == '':\n"
           "    del sys.path[0]\n"
           "def probe(names, watch):\n"
           "    missing = []\n"
           "    for name in names:\n"
           "        try:\n"
           "            dist = metadata.distribution(name)\n"
           "        except metadata.PackageNotFoundError:\n"
           "            missing.append(name)\n"
           "            continue\n"
           "        if getattr(dist, '_path', None) is not None:\n"
           "            watch.append(os.path.abspath(os.fspath(dist._path)))\n"
           "    sites = list(site.getsitepackages()) if hasattr(site, 'getsitepackages') else []\n"
           "    sites.append(site.getusersitepackages())\n"
           "    watch += [os.path.abspath(folder) for folder in sys.path + sites]\n"
           "    for folder in sites:\n"
           "        try:\n"
           "            watch += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith('.pth'))\n"
           "        except OSError:\n"
           "            pass\n"
           "    watch.append(os.path.join(sys.prefix, 'pyvenv.cfg'))\n"
           "    return missing, watch\n";
}

namespace {

struct Finished {
    bool started = false;
    int code = -1;
    std::string output;  // stdout and stderr together
};

// This process's environment with the variables Python reads at start-up replaced by
// `variables` (startup_variables(): this process's own, with the environment's over them).
std::vector<std::string> environment_with(const std::map<std::string, std::string>& variables) {
    std::vector<std::string> entries;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string text = *entry;
        std::string name = text.substr(0, text.find('='));
        if (!decides_startup(name)) entries.push_back(text);
    }
    for (const auto& [name, value] : variables) entries.push_back(name + "=" + value);
    return entries;
}

// Runs argv to completion, without a shell, collecting its output. Used only before any
// rank starts: a short, synchronous look at the machine.
Finished run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& variables) {
    Finished result;
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return result;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> entries = environment_with(variables);
    std::vector<char*> envp;
    for (std::string& entry : entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (spawned == 0) {
        result.started = true;
        char buffer[4096];
        ssize_t n;
        while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
            if (n > 0) result.output.append(buffer, static_cast<size_t>(n));
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    close(pipe_fds[0]);
    return result;
}

struct CheckAnswer {
    std::vector<std::string> missing;  // distribution names
    std::vector<std::string> watched;  // what the answer rests on (environment_stamp.h)
    std::string executable;            // the interpreter that answered, symlinks resolved
};

std::optional<CheckAnswer> check_requirements(const std::string& python, const std::vector<std::string>& names,
                                              const std::map<std::string, std::string>& variables,
                                              std::string* error) {
    std::vector<std::string> argv = {python, "-c", check_program()};
    argv.insert(argv.end(), names.begin(), names.end());
    Finished check = run(argv, variables);
    if (!check.started || check.code == 127) {
        *error = "the interpreter '" + python + "' cannot be run";
        return std::nullopt;
    }
    size_t marker = check.output.rfind(kMarker);
    nlohmann::json answer;
    if (check.code == 0 && marker != std::string::npos) {
        size_t start = marker + std::char_traits<char>::length(kMarker);
        answer = nlohmann::json::parse(check.output.substr(start, check.output.find('\n', start) - start), nullptr, false);
    }
    if (!answer.is_object()) {
        *error = "the interpreter '" + python + "' failed to list its packages: " + check.output;
        return std::nullopt;
    }
    CheckAnswer result;
    if (answer.contains("executable") && answer["executable"].is_string()) result.executable = answer["executable"];
    for (const auto& key : {"missing", "watch"}) {
        auto& into = std::string(key) == "missing" ? result.missing : result.watched;
        for (const auto& item : answer.value(key, nlohmann::json::array())) {
            if (item.is_string()) into.push_back(item.get<std::string>());
        }
    }
    return result;
}

std::string last_line(const std::string& text) {
    std::string trimmed = text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
    size_t newline = trimmed.rfind('\n');
    return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

int64_t now_ns() {
    using namespace std::chrono;
    return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

// The stamp of a check that found everything installed, begun at `started_ns`: nullopt
// when something it rests on changed within kRacyMarginNs of that (or is gone), and when
// the interpreter named is not the one that answered but a program that started it (a
// pyenv shim, a wrapper script): which one it starts can change with no file to watch.
std::optional<EnvironmentStamp> stamp_of(EnvironmentStamp stamp, const CheckAnswer& answer, int64_t started_ns) {
    int64_t newest = 0, mtime = 0;
    stamp.interpreter = resolve_program(stamp.python);
    if (stamp.interpreter.empty() || resolve_program(stamp.ready_python) != answer.executable) return std::nullopt;
    stamp.identity = file_identity(stamp.interpreter, &newest);
    std::vector<std::string> paths = answer.watched;
    if (stamp.ready_python != stamp.python) paths.push_back(stamp.ready_python);
    for (const std::string& path : paths) {
        auto known = std::find_if(stamp.watched.begin(), stamp.watched.end(),
                                  [&](const auto& entry) { return entry.first == path; });
        if (path.empty() || known != stamp.watched.end()) continue;
        stamp.watched.emplace_back(path, file_identity(path, &mtime));
        newest = std::max(newest, mtime);
    }
    if (newest > started_ns - kRacyMarginNs) return std::nullopt;
    stamp.verified_ms = started_ns / 1'000'000;
    return stamp;
}

// The cached virtual environment `venv` on top of `python`'s packages, unless it exists.
bool make_venv(const std::string& python, const fs::path& venv, const std::vector<std::string>& missing,
               const std::map<std::string, std::string>& variables, std::string* error) {
    std::error_code ignored;
    if (fs::exists(venv / "bin" / "python", ignored)) return true;
    fs::create_directories(venv.parent_path(), ignored);
    Finished made = run({python, "-m", "venv", "--system-site-packages", venv.string()}, variables);
    if (made.code == 0) return true;
    *error = "the environment lacks " + join(missing) + ", and no virtual environment could be made for them: " +
             last_line(made.output);
    return false;
}

// pip-installs the requirements whose names are `missing` into the venv of `python`.
bool install(const std::string& python, const std::vector<std::string>& requirements,
             const std::vector<std::string>& missing, const std::map<std::string, std::string>& variables,
             std::string* error) {
    std::vector<std::string> argv = {python, "-m", "pip", "install", "--disable-pip-version-check",
                                     "--retries", "0", "--timeout", "10"};
    for (const std::string& requirement : requirements) {
        if (std::find(missing.begin(), missing.end(), requirement_name(requirement)) != missing.end()) {
            argv.push_back(requirement);
        }
    }
    Finished installed = run(argv, variables);
    if (installed.code == 0) return true;
    *error = "the environment lacks " + join(missing) + " and installing " + (missing.size() == 1 ? "it" : "them") +
             " failed (is this machine offline?): " + last_line(installed.output);
    return false;
}

}  // namespace

std::string requirement_name(const std::string& requirement) {
    size_t end = requirement.find_first_of("<>=!~;[ @");
    return requirement.substr(0, end);
}

EnvironmentStamp environment_question(const nlohmann::json& fields, const std::map<std::string, std::string>& variables) {
    EnvironmentStamp question;
    question.python = fields.value("python", "python3");
    nlohmann::json requirements = nlohmann::json::array();
    for (const auto& item : fields.value("pip", nlohmann::json::array())) {
        if (item.is_string()) requirements.push_back(item);
    }
    question.requirements_json = requirements.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    question.variables_json = nlohmann::json(variables).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return question;
}

std::optional<EnvironmentReady> prepare_environment(const nlohmann::json& fields,
                                                    const std::map<std::string, std::string>& variables,
                                                    const std::string& hash, const fs::path& cache,
                                                    std::string* error) {
    EnvironmentReady ready;
    ready.python = fields.value("python", "python3");
    std::vector<std::string> requirements, names;
    for (const auto& item : fields.value("pip", nlohmann::json::array())) {
        if (!item.is_string()) continue;
        requirements.push_back(item.get<std::string>());
        names.push_back(requirement_name(requirements.back()));
    }
    // No packages to verify: finding the interpreter is enough, without starting it
    // (a pyenv shim takes ~150 ms to start, and a `command` job may not use it at all).
    if (names.empty()) {
        if (resolve_program(ready.python).empty()) {
            *error = "the interpreter '" + ready.python + "' cannot be run";
            return std::nullopt;
        }
        return ready;
    }
    EnvironmentStamp question = environment_question(fields, variables);
    int64_t started_ns = now_ns();
    auto answer = check_requirements(ready.python, names, variables, error);
    if (!answer) return std::nullopt;
    if (answer->missing.empty()) {
        question.ready_python = ready.python;
        ready.stamp = stamp_of(question, *answer, started_ns);
        return ready;
    }

    // A virtual environment on top of the interpreter's packages, cached by the
    // environment's hash: made once, reused by every later run.
    fs::path venv = cache / hash.substr(0, 16);
    std::string venv_python = (venv / "bin" / "python").string();
    if (!make_venv(ready.python, venv, answer->missing, variables, error)) return std::nullopt;
    auto in_venv = check_requirements(venv_python, names, variables, error);
    if (!in_venv) return std::nullopt;
    const std::vector<std::string>& still = in_venv->missing;
    ready.python = venv_python;
    if (still.empty()) {
        question.ready_python = venv_python;
        ready.stamp = stamp_of(question, *in_venv, started_ns);
        return ready;
    }
    if (!install(venv_python, requirements, still, variables, error)) return std::nullopt;
    // No stamp: the install just changed the folders; the next run checks and stamps.
    ready.note = "installed " + join(still) + " into " + venv.string();
    return ready;
}

}  // namespace amlflow::runtime
