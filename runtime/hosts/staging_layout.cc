#include "runtime/hosts/staging_layout.h"

#include <filesystem>
#include <sstream>

#include "compiler/sha256.h"
#include "runtime/core/artifacts.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;

namespace {

std::string normal(const std::string& path) {
    std::string text = fs::path(path).lexically_normal().string();
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    return text;
}

// `host:path` for rsync; an IPv6 address goes in brackets, as rsync reads it.
std::string remote_spec(const std::string& host, const std::string& path) {
    if (host.empty()) return path;
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + path;
}

std::vector<std::string> rsync_base(const HostsCompute& compute, const std::string& host, bool mirror) {
    std::vector<std::string> argv = {"rsync", "-a"};
    if (mirror) argv.push_back("--delete");
    if (!host.empty()) {
        std::vector<std::string> ssh = {"ssh"};
        for (std::string& option : ssh_options(compute)) ssh.push_back(std::move(option));
        // rsync splits this at spaces and honours quotes, as a shell would.
        argv.insert(argv.end(), {"-e", shell_join(ssh)});
    }
    return argv;
}

// The item's hash: a file's includes its name, since it is staged under that name.
std::optional<StagedItem> hash_item(const std::string& path, bool by_content, std::string* error) {
    StagedItem item{path, "", false};
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        *error = "cannot stage '" + path + "': it does not exist";
        return std::nullopt;
    }
    item.file = fs::is_regular_file(path, ec);
    std::string digest;
    if (by_content) {
        std::string why;
        auto content = content_digest(path, &why);
        if (!content) {
            *error = "cannot stage '" + path + "': " + why;
            return std::nullopt;
        }
        digest = "content:" + content->hash;
    } else {
        digest = input_fingerprint(path);
    }
    std::string name = item.file ? fs::path(path).filename().string() : "";
    item.hash = compiler::sha256_hex((item.file ? "file\n" + name + "\n" : "folder\n") + digest);
    return item;
}

std::string item_path(const std::string& workdir, const StagedItem& item) {
    std::string folder = workdir + "/cache/" + item.hash;
    return item.file ? folder + "/" + fs::path(item.local).filename().string() : folder;
}

}  // namespace

StagingMode staging_mode(const HostsCompute& compute, const std::string& run_store_folder) {
    if (!compute.shared_fs) return StagingMode::per_host;
    if (compute.workdir.empty() || normal(compute.workdir) == normal(run_store_folder)) return StagingMode::none;
    return StagingMode::local_copy;
}

std::optional<std::vector<StagedItem>> staged_items(const StagingRequest& request, std::string* error) {
    std::vector<std::pair<std::string, bool>> wanted;  // path, hashed by content
    for (const std::string* path : {&request.snapshot, &request.helper, &request.shim}) {
        if (!path->empty()) wanted.emplace_back(*path, true);
    }
    for (const std::string& input : request.inputs) wanted.emplace_back(input, false);
    std::vector<StagedItem> items;
    for (const auto& [path, by_content] : wanted) {
        auto item = hash_item(path, by_content, error);
        if (!item) return std::nullopt;
        items.push_back(*item);
    }
    return items;
}

RemoteLayout remote_layout(const std::string& workdir, const StagingRequest& request,
                           const std::vector<StagedItem>& items) {
    RemoteLayout layout;
    layout.workdir = normal(workdir);
    for (const StagedItem& item : items) layout.staged[normal(item.local)] = item_path(layout.workdir, item);
    auto place = [&](const std::string& local) {
        auto found = layout.staged.find(normal(local));
        return found == layout.staged.end() ? std::string() : found->second;
    };
    layout.snapshot = place(request.snapshot);
    layout.helper = place(request.helper);
    layout.shim = place(request.shim);
    for (const std::string& input : request.inputs) layout.inputs[input] = place(input);
    std::string step = layout.workdir + "/" + request.run_id + "/" + request.step;
    layout.attempt = step + "/attempt-" + std::to_string(request.attempt);
    layout.outputs = layout.attempt + "/outputs";
    layout.logs = layout.attempt + "/logs";
    layout.metrics = layout.attempt + "/metrics";
    layout.work = layout.attempt + "/work";
    layout.checkpoints = step + "/checkpoints";
    return layout;
}

std::string RemoteLayout::remote_path(const std::string& local) const {
    std::string path = normal(local);
    // The deepest staged folder holding `path` (an input inside the snapshot maps as itself).
    std::string best_local, best_remote;
    for (const auto& [from, to] : staged) {
        bool under = path == from || (path.size() > from.size() && path.compare(0, from.size(), from) == 0 &&
                                      (from == "/" || path[from.size()] == '/'));
        if (under && from.size() >= best_local.size()) {
            best_local = from;
            best_remote = to;
        }
    }
    if (best_remote.empty()) return "";
    return best_remote + path.substr(best_local.size());
}

std::vector<std::string> target_command(const HostsCompute& compute, const std::string& host,
                                        const std::string& script) {
    if (host.empty()) return {"sh", "-c", script};
    return ssh_command(compute, host, "sh -c " + shell_quote(script));
}

std::vector<std::string> rsync_push(const HostsCompute& compute, const std::string& host, const std::string& from,
                                    bool folder, const std::string& to, bool mirror) {
    std::vector<std::string> argv = rsync_base(compute, host, mirror);
    argv.push_back(folder ? normal(from) + "/" : from);
    argv.push_back(remote_spec(host, normal(to) + "/"));
    return argv;
}

std::vector<std::string> rsync_pull(const HostsCompute& compute, const std::string& host, const std::string& from,
                                    const std::string& to, bool mirror) {
    std::vector<std::string> argv = rsync_base(compute, host, mirror);
    argv.push_back(remote_spec(host, normal(from) + "/"));
    argv.push_back(normal(to) + "/");
    return argv;
}

std::string probe_script(const RemoteLayout& layout, const std::vector<StagedItem>& items) {
    std::string script = "set -e\nmkdir -p";
    for (const std::string* folder : {&layout.outputs, &layout.logs, &layout.metrics, &layout.checkpoints}) {
        script += " " + shell_quote(*folder);
    }
    std::string cache = layout.workdir + "/cache";
    script += " " + shell_quote(cache) + "\ncd " + shell_quote(cache) + "\nfor h in";
    for (const StagedItem& item : items) script += " " + item.hash;
    return script + "; do if [ -e \"$h.done\" ]; then echo \"have=$h\"; fi; done\n";
}

std::string mark_script(const std::string& workdir, const std::vector<std::string>& hashes) {
    std::string script = "cd " + shell_quote(normal(workdir) + "/cache") + " && touch";
    for (const std::string& hash : hashes) script += " " + hash + ".done";
    return script;
}

std::string work_script(const RemoteLayout& layout) {
    std::string work = shell_quote(layout.work), snapshot = shell_quote(layout.snapshot);
    // Hard links: as cheap as a rename, and a script that rewrites a file (write to a new
    // one, rename) never touches the cached copy. A file system without them gets a copy.
    return "rm -rf " + work + " && mkdir -p " + work + " && { cp -al " + snapshot + "/. " + work + "/ 2>/dev/null || cp -a " +
           snapshot + "/. " + work + "/; } && rm -rf " + work + "/outputs " + work + "/logs && ln -s ../outputs " + work +
           "/outputs && ln -s ../logs " + work + "/logs";
}

std::vector<std::string> hashes_present(const std::string& out) {
    std::vector<std::string> hashes;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("have=", 0) == 0) hashes.push_back(line.substr(5));
    }
    return hashes;
}

}  // namespace amlflow::runtime
