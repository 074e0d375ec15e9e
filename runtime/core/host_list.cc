#include "runtime/core/host_list.h"

#include "compiler/home_path.h"
#include "compiler/host_entry.h"

#include <sys/stat.h>
#include <unistd.h>

namespace amlflow::runtime {

using nlohmann::json;

namespace {

std::string string_field(const json& node, const char* name) {
    auto found = node.find(name);
    return found != node.end() && found->is_string() ? found->get<std::string>() : "";
}

int int_field(const json& node, const char* name, int fallback) {
    auto found = node.find(name);
    return found != node.end() && found->is_number_integer() ? found->get<int>() : fallback;
}

// One entry of the list, read as the checker reads it (compiler/host_entry.h): what the
// checker refused is refused here with the same words.
std::optional<HostEntry> parse_host(const std::string& text, int fallback, std::string* error) {
    compiler::HostEntry entry;
    compiler::HostEntryProblem problem = compiler::parse_host_entry(text, fallback, entry);
    if (!problem.message.empty()) {
        *error = problem.message;
        return std::nullopt;
    }
    return HostEntry{entry.name, static_cast<int>(entry.slots)};  // at most 100000 (host_entry.cc)
}

}  // namespace

std::optional<HostsCompute> hosts_compute_from(const json& compute, std::string* error) {
    HostsCompute out;
    out.compute = string_field(compute, "$name");
    int slots = int_field(compute, "slots", 1);
    auto hosts = compute.find("hosts");
    if (hosts == compute.end() || !hosts->is_array() || hosts->empty()) {
        *error = "a hosts compute needs a non-empty 'hosts' list";
        return std::nullopt;
    }
    for (const json& host : *hosts) {
        if (!host.is_string()) {
            *error = "'hosts' holds a value that is not a string";
            return std::nullopt;
        }
        auto entry = parse_host(host.get<std::string>(), slots, error);
        if (!entry) return std::nullopt;
        out.hosts.push_back(*entry);
    }
    out.user = string_field(compute, "user");
    out.ssh_port = int_field(compute, "ssh_port", 22);
    out.identity_file = expand_home(string_field(compute, "identity_file"));
    out.ssh_config = expand_home(string_field(compute, "ssh_config"));
    out.interface = string_field(compute, "interface");
    out.workdir = string_field(compute, "workdir");
    auto shared = compute.find("shared_fs");
    out.shared_fs = shared == compute.end() || !shared->is_boolean() || shared->get<bool>();
    out.python = string_field(compute, "python");
    if (compute.contains("gpus")) out.gpus = compute["gpus"];
    if (!out.workdir.empty() && out.workdir.front() != '/') {
        *error = "workdir '" + out.workdir + "' is not an absolute path";
        return std::nullopt;
    }
    if (!out.shared_fs && out.workdir.empty()) {
        *error = "a hosts compute with shared_fs = false needs a workdir";
        return std::nullopt;
    }
    return out;
}

std::string expand_home(const std::string& path) { return compiler::expand_home(path); }

std::string private_folder(const std::string& path) {
    mkdir(path.c_str(), 0700);
    struct stat info {};
    // Ours alone, or none at all: another user's folder would let them ride our connections.
    if (lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != getuid()) return "";
    // Ours but readable by others (made by hand, or under another umask): nobody else could
    // have put a socket in it, so closing it is safe. Refusing it instead made every ssh
    // connect on its own, silently (measured: ~0.35 s more per hosts job here).
    if ((info.st_mode & 022) == 0 && (info.st_mode & 077) != 0) chmod(path.c_str(), 0700);
    if (lstat(path.c_str(), &info) != 0 || (info.st_mode & 077) != 0) return "";
    return path;
}

std::string ssh_control_folder() {
    // Short: a unix socket's path has room for ~100 bytes, and %C adds 40.
    static const std::string folder = private_folder("/tmp/amlflow-ssh-" + std::to_string(getuid()));
    return folder;
}

std::vector<std::string> ssh_options(const HostsCompute& compute) {
    std::vector<std::string> out;
    if (!compute.ssh_config.empty()) out.insert(out.end(), {"-F", compute.ssh_config});
    if (compute.ssh_port != 22) out.insert(out.end(), {"-p", std::to_string(compute.ssh_port)});
    if (!compute.identity_file.empty()) out.insert(out.end(), {"-i", compute.identity_file});
    if (!compute.user.empty()) out.insert(out.end(), {"-l", compute.user});
    // Never a prompt: amlflow runs unattended, and a prompt would hang the run.
    out.insert(out.end(), {"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o",
                           "ServerAliveCountMax=3"});
    // One connection per host, shared: the preflight's ssh opens it, and the copies and
    // Open MPI's daemon launch ride on it instead of a key exchange each (~0.2-0.4 s per
    // host here). It lingers a minute for the next attempt or run.
    std::string folder = ssh_control_folder();
    if (!folder.empty()) {
        out.insert(out.end(), {"-o", "ControlMaster=auto", "-o", "ControlPath=" + folder + "/%C", "-o", "ControlPersist=60"});
    }
    return out;
}

std::vector<std::string> ssh_command(const HostsCompute& compute, const std::string& host, const std::string& remote) {
    std::vector<std::string> argv = {"ssh"};
    for (std::string& option : ssh_options(compute)) argv.push_back(std::move(option));
    argv.push_back(host);
    argv.push_back("--");
    argv.push_back(remote);
    return argv;
}

std::string shell_quote(const std::string& word) {
    bool safe = !word.empty();
    for (char c : word) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
        if (!ok) safe = false;
    }
    if (safe) return word;
    std::string out = "'";
    for (char c : word) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

std::string shell_join(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& word : words) {
        if (!out.empty()) out += ' ';
        out += shell_quote(word);
    }
    return out;
}

bool is_cidr(const std::string& interface) { return interface.find('/') != std::string::npos; }

std::string host_label(const std::string& host, const std::string& address) {
    std::string label = "host '" + host + "'";
    if (!address.empty() && address != host) label += " (" + address + ")";
    return label;
}

}  // namespace amlflow::runtime
