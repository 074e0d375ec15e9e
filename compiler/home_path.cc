#include "compiler/home_path.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace amlflow::compiler {

std::string expand_home(const std::string& path) {
    if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) return path;
    const char* home = std::getenv("HOME");
    std::string base = home && *home ? home : "";
    if (base.empty()) {
        if (passwd* entry = getpwuid(getuid())) base = entry->pw_dir ? entry->pw_dir : "";
    }
    if (base.empty()) return path;
    return base + path.substr(1);
}

}  // namespace amlflow::compiler
