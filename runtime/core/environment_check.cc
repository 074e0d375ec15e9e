#include "runtime/core/environment_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

extern char** environ;

namespace amlflow::runtime {

namespace fs = std::filesystem;

namespace {

// Lists the requirements (by distribution name) that `python` cannot find, one a line.
// importlib.metadata reads the installed metadata without importing anything.
constexpr const char* kCheck =
    "import sys\n"
    "from importlib import metadata\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        metadata.version(name)\n"
    "    except metadata.PackageNotFoundError:\n"
    "        print(name)\n";

struct Finished {
    bool started = false;
    int code = -1;
    std::string output;  // stdout and stderr together
};

// Runs argv to completion, without a shell, collecting its output. Used only before any
// rank starts: a short, synchronous look at the machine.
Finished run(const std::vector<std::string>& argv) {
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
    pid_t pid = 0;
    int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
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

// Whether `program` names an executable file: a path as given, or a name on $PATH, as
// posix_spawnp would find it.
bool executable_on_path(const std::string& program) {
    if (program.empty()) return false;
    if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
    const char* path = std::getenv("PATH");
    std::string folders = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= folders.size()) {
        size_t end = folders.find(':', start);
        if (end == std::string::npos) end = folders.size();
        std::string folder = folders.substr(start, end - start);
        std::string candidate = (folder.empty() ? "." : folder) + "/" + program;
        struct stat info;
        if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
            return true;
        }
        start = end + 1;
    }
    return false;
}

std::vector<std::string> missing_requirements(const std::string& python, const std::vector<std::string>& names,
                                              std::string* error) {
    std::vector<std::string> argv = {python, "-c", kCheck};
    argv.insert(argv.end(), names.begin(), names.end());
    Finished check = run(argv);
    if (!check.started || check.code == 127) {
        *error = "the interpreter '" + python + "' cannot be run";
        return {};
    }
    if (check.code != 0) {
        *error = "the interpreter '" + python + "' failed to list its packages: " + check.output;
        return {};
    }
    std::vector<std::string> missing;
    std::istringstream lines(check.output);
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) missing.push_back(line);
    }
    return missing;
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

}  // namespace

std::string requirement_name(const std::string& requirement) {
    size_t end = requirement.find_first_of("<>=!~;[ @");
    return requirement.substr(0, end);
}

std::optional<EnvironmentReady> prepare_environment(const nlohmann::json& fields, const std::string& hash,
                                                    const fs::path& cache, std::string* error) {
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
        if (!executable_on_path(ready.python)) {
            *error = "the interpreter '" + ready.python + "' cannot be run";
            return std::nullopt;
        }
        return ready;
    }
    std::vector<std::string> missing = missing_requirements(ready.python, names, error);
    if (!error->empty()) return std::nullopt;
    if (missing.empty()) return ready;

    // A virtual environment on top of the interpreter's packages, cached by the
    // environment's hash: made once, reused by every later run.
    fs::path venv = cache / hash.substr(0, 16);
    std::string venv_python = (venv / "bin" / "python").string();
    std::error_code ignored;
    if (!fs::exists(venv_python, ignored)) {
        fs::create_directories(cache, ignored);
        Finished made = run({ready.python, "-m", "venv", "--system-site-packages", venv.string()});
        if (made.code != 0) {
            *error = "the environment lacks " + join(missing) + ", and no virtual environment could be made for them: " +
                     last_line(made.output);
            return std::nullopt;
        }
    }
    std::vector<std::string> still = missing_requirements(venv_python, names, error);
    if (!error->empty()) return std::nullopt;
    if (!still.empty()) {
        std::vector<std::string> install = {venv_python, "-m", "pip", "install", "--disable-pip-version-check",
                                            "--retries", "0", "--timeout", "10"};
        for (const std::string& requirement : requirements) {
            if (std::find(still.begin(), still.end(), requirement_name(requirement)) != still.end()) install.push_back(requirement);
        }
        Finished installed = run(install);
        if (installed.code != 0) {
            *error = "the environment lacks " + join(still) + " and installing " +
                     (still.size() == 1 ? "it" : "them") + " failed (is this machine offline?): " +
                     last_line(installed.output);
            return std::nullopt;
        }
        ready.note = "installed " + join(still) + " into " + venv.string();
    }
    ready.python = venv_python;
    return ready;
}

}  // namespace amlflow::runtime
