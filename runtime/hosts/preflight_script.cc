#include "runtime/hosts/preflight_script.h"

#include "runtime/core/environment_check.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/host_list.h"

namespace amlflow::runtime {

namespace {

constexpr const char* kBegin = "amlflow-preflight-begin";
constexpr const char* kEnd = "amlflow-preflight-end";
constexpr const char* kAnswer = "amlflow-host-check ";

// argv[1] is the interpreter's path as the shell found it, the rest distribution names.
// The paths' identities are formatted as `stat -L -c %i:%s:%Y` prints them, one '+' or '-'
// per path for whether it exists, so the shell can compare a later state without Python.
// An answer resting on something changed in the last 2 s (mtime has a 1 s grain here) is
// not offered for caching: a change in the same second would look like no change.
std::string check_program() {
    return requirements_probe_python() +
           "import time\n"
           "missing, watch = probe(sys.argv[2:], [sys.argv[1]])\n"
           "paths = list(dict.fromkeys(p for p in watch if p and '\\n' not in p))\n"
           "marks, ids, newest = '', '', 0\n"
           "for path in paths:\n"
           "    try:\n"
           "        info = os.stat(path)\n"
           "    except OSError:\n"
           "        marks += '-'\n"
           "        continue\n"
           "    marks += '+'\n"
           "    ids += '%d:%d:%d ' % (info.st_ino, info.st_size, int(info.st_mtime))\n"
           "    newest = max(newest, info.st_mtime)\n"
           "print('amlflow-host-check ' + json.dumps({'missing': missing, 'watch': paths,\n"
           "      'identity': marks + '|' + ids, 'racy': newest > time.time() - 2,\n"
           "      'version': sys.version.split()[0]}))\n";
}

// Prints the identity of "$@" as check_program() computes it, with shell built-ins and one stat.
constexpr const char* kIdentity =
    "identity() { marks=; for f in \"$@\"; do if [ -e \"$f\" ]; then marks=\"$marks+\"; else marks=\"$marks-\"; fi; "
    "done; printf '%s|' \"$marks\"; if [ $# -gt 0 ]; then stat -L -c '%i:%s:%Y' -- \"$@\" 2>/dev/null | tr '\\n' ' '; "
    "fi; }\n";

constexpr const char* kFacts =
    "echo amlflow-preflight-begin\n"
    "echo \"hostname=$(hostname 2>/dev/null || uname -n)\"\n"
    "set -- $SSH_CONNECTION\n"
    "echo \"address=$3\"\n"
    "v=$(mpirun --version 2>/dev/null | head -n 1)\n"
    "[ -n \"$v\" ] || v=$(ompi_info --version 2>/dev/null | head -n 1)\n"
    "echo \"ompi=$v\"\n"
    "echo \"cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)\"\n"
    "if command -v nvidia-smi >/dev/null 2>&1; then\n"
    "  nvidia-smi --query-gpu=index,uuid --format=csv,noheader 2>/dev/null | sed 's/^/gpu=/'\n"
    "fi\n";

// Whether a port is free is read from the kernel's listening sockets (state 0A in
// /proc/net/tcp and tcp6; the port is the local address's hex tail). A port in use is
// replaced by a pseudo-random one in 20000-49999 that no socket listens on; where /proc is
// unreadable the asked port stands.
std::string port_part(int master_port) {
    return "listening() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=\"$(printf '%04X' \"$1\")\" "
           "'$4 == \"0A\" && substr($2, length($2) - 3) == p { hit = 1 } END { exit !hit }'; }\n"
           "port=" + std::to_string(master_port) + "; n=0\n"
           "while listening \"$port\" && [ $n -lt 64 ]; do n=$((n + 1)); "
           "port=$((20000 + ($$ * 7919 + n * 104729 + port) % 30000)); done\n"
           "echo \"port=$port\"\n";
}

std::string check_part(const std::string& python, const std::vector<std::string>& names, const PackageStamp* cached) {
    std::string script = "p=$(command -v " + shell_quote(python) + " 2>/dev/null)\necho \"python=$p\"\n";
    script += "if [ -n \"$p\" ]; then\n";
    std::string run_check = "  out=$(\"$p\" -c " + shell_quote(check_program()) + " \"$p\"";
    for (const std::string& name : names) run_check += " " + shell_quote(name);
    run_check += " 2>&1)\n  echo \"python_status=$?\"\n  printf '%s\\n' \"$out\" | tail -n 40 | sed 's/^/py=/'\n";
    if (cached) {
        script += kIdentity;
        script += "  set --";
        for (const std::string& path : cached->watched) script += " " + shell_quote(path);
        script += "\n  if [ \"$p|$(identity \"$@\")\" = " + shell_quote(cached->identity) + " ]; then\n";
        script += "    echo packages=cached\n  else\n" + run_check + "  fi\n";
    } else {
        script += run_check;
    }
    return script + "fi\necho amlflow-preflight-end\n";
}

void read_check(const std::string& line, PreflightAnswer& answer) {
    if (line.rfind(kAnswer, 0) != 0) {
        if (!line.empty()) answer.python_failure = line;
        return;
    }
    nlohmann::json json = nlohmann::json::parse(line.substr(std::char_traits<char>::length(kAnswer)), nullptr, false);
    if (!json.is_object()) return;
    answer.python_ran = true;
    answer.python_failure.clear();
    for (const auto& name : json.value("missing", nlohmann::json::array())) {
        if (name.is_string()) answer.missing.push_back(name.get<std::string>());
    }
    answer.python_version = json.value("version", "");
    if (!answer.missing.empty() || json.value("racy", true)) return;
    PackageStamp stamp;
    for (const auto& path : json.value("watch", nlohmann::json::array())) {
        if (path.is_string()) stamp.watched.push_back(path.get<std::string>());
    }
    stamp.identity = answer.python + "|" + json.value("identity", "");
    answer.stamp = stamp;
}

}  // namespace

std::string preflight_command(const std::string& python, const std::vector<std::string>& names,
                              const PackageStamp* cached, int master_port) {
    std::string script = kFacts;
    if (master_port > 0) script += port_part(master_port);
    script += check_part(python, names, cached);
    return "sh -c " + shell_quote(script);
}

std::string ompi_version_from(const std::string& line) {
    if (line.find("Open MPI") == std::string::npos) return "";
    std::string word, last;
    std::istringstream words(line);
    while (words >> word) last = word;
    if (!last.empty() && last[0] == 'v') last.erase(0, 1);
    return last;
}

PreflightAnswer parse_preflight_answer(const std::string& out) {
    PreflightAnswer answer;
    bool inside = false;
    int python_status = -1;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == kBegin) inside = true;
        if (line == kEnd && inside) answer.complete = true;
        size_t equals = line.find('=');
        if (!inside || answer.complete || equals == std::string::npos) continue;
        std::string key = line.substr(0, equals), value = line.substr(equals + 1);
        if (key == "hostname") answer.hostname = value;
        else if (key == "address") answer.address = value;
        else if (key == "ompi") answer.ompi_version = ompi_version_from(value);
        else if (key == "cores") answer.cores = std::atoi(value.c_str());
        else if (key == "port") answer.free_port = std::atoi(value.c_str());
        else if (key == "python") answer.python = value;
        else if (key == "packages") answer.packages_cached = value == "cached";
        else if (key == "python_status") python_status = std::atoi(value.c_str());
        else if (key == "py") read_check(value, answer);
        else if (key == "gpu") {
            size_t comma = value.find(',');
            if (comma == std::string::npos) continue;
            std::string uuid = value.substr(comma + 1);
            while (!uuid.empty() && uuid.front() == ' ') uuid.erase(0, 1);
            answer.gpus.push_back({std::atoi(value.substr(0, comma).c_str()), uuid});
        }
    }
    if (python_status != 0 && answer.python_ran) {
        // An answer printed by a check that then failed is not to be trusted.
        answer.python_ran = false;
        answer.stamp.reset();
    }
    return answer;
}

}  // namespace amlflow::runtime
