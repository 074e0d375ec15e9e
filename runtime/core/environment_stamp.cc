#include "runtime/core/environment_stamp.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

extern char** environ;

namespace amlflow::runtime {

bool decides_startup(const std::string& name) { return name.rfind("PYTHON", 0) == 0 || name == "HOME"; }

namespace {

std::string real_path(const std::string& path) {
    char resolved[PATH_MAX];
    return ::realpath(path.c_str(), resolved) ? std::string(resolved) : std::string();
}

}  // namespace

std::string file_identity(const std::string& path, int64_t* mtime_ns) {
    struct stat info;
    if (mtime_ns) *mtime_ns = 0;
    if (::stat(path.c_str(), &info) != 0) return "missing";
    int64_t mtime = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
    if (mtime_ns) *mtime_ns = mtime;
    return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" + std::to_string(info.st_size) + ":" +
           std::to_string(mtime);
}

std::string resolve_program(const std::string& program) {
    if (program.empty()) return "";
    if (program.find('/') != std::string::npos) {
        return ::access(program.c_str(), X_OK) == 0 ? real_path(program) : "";
    }
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
            return real_path(candidate);
        }
        start = end + 1;
    }
    return "";
}

std::map<std::string, std::string> startup_variables(const std::map<std::string, std::string>& overrides) {
    std::map<std::string, std::string> variables;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string text = *entry;
        size_t equals = text.find('=');
        if (equals != std::string::npos && decides_startup(text.substr(0, equals))) {
            variables[text.substr(0, equals)] = text.substr(equals + 1);
        }
    }
    for (const auto& [name, value] : overrides) {
        if (decides_startup(name)) variables[name] = value;
    }
    return variables;
}

bool stamp_holds(const EnvironmentStamp& stamp, std::string* changed) {
    auto differs = [&](const std::string& what) {
        if (changed) *changed = what;
        return false;
    };
    std::string interpreter = resolve_program(stamp.python);
    if (interpreter != stamp.interpreter) return differs("'" + stamp.python + "' is now '" + interpreter + "'");
    if (file_identity(interpreter) != stamp.identity) return differs("'" + interpreter + "' changed");
    for (const auto& [path, identity] : stamp.watched) {
        if (file_identity(path) != identity) return differs("'" + path + "' changed");
    }
    return true;
}

}  // namespace amlflow::runtime
