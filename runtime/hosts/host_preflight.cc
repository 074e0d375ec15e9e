#include "runtime/hosts/host_preflight.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "runtime/core/environment_check.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCacheFile = "host-packages.json";

// This machine's Open MPI version, once asked: it does not change while amlflow runs.
std::optional<std::string>& known_local_version() {
    static std::optional<std::string> version;
    return version;
}

json read_cache(const fs::path& folder) {
    if (folder.empty()) return json::object();
    std::ifstream in(folder / kCacheFile);
    json cache = in ? json::parse(in, nullptr, false) : json::object();
    return cache.is_object() ? cache : json::object();
}

// Through a temporary name, so a reader never sees half a file; a second amlflow writing
// at the same moment loses at worst its own entries (they are checked again next time).
void write_cache(const fs::path& folder, const json& cache) {
    std::error_code ignored;
    fs::create_directories(folder, ignored);
    fs::path temporary = folder / (std::string(kCacheFile) + "." + std::to_string(getpid()));
    {
        std::ofstream out(temporary);
        out << cache.dump(1) << "\n";
        if (!out) return;
    }
    fs::rename(temporary, folder / kCacheFile, ignored);
    if (ignored) fs::remove(temporary, ignored);
}

std::string plural(int count, const std::string& word) {
    return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

// The `hostname` line of `ssh -G host`: the address ssh would connect to, config applied.
std::string resolved_hostname(const std::string& out) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("hostname ", 0) == 0) return line.substr(9);
    }
    return "";
}

}  // namespace

struct HostPreflight::HostCheck {
    explicit HostCheck(EventLoop& loop) : run(loop) {}
    HostFacts facts;
    CommandRun run;
    bool done = false;
    std::optional<PreflightAnswer> answer;  // set when the script answered
    std::string unreachable;                // what ssh said, when it could not reach the host
};

int gpus_asked(const json& gpus) {
    if (gpus.is_number_integer()) return std::max(0, gpus.get<int>());
    int needed = 0;
    if (gpus.is_array()) {
        for (const json& index : gpus) {
            if (index.is_number_integer()) needed = std::max(needed, index.get<int>() + 1);
        }
    }
    return needed;
}

HostPreflight::HostPreflight(EventLoop& loop, HostsCompute compute, PreflightRequest request)
    : loop_(loop), compute_(std::move(compute)), request_(std::move(request)) {
    for (const std::string& requirement : request_.requirements) names_.push_back(requirement_name(requirement));
}

HostPreflight::~HostPreflight() { loop_.cancel(finish_timer_); }

std::string HostPreflight::cache_key(const std::string& host) const {
    std::string key = host + " " + request_.python + " [";
    for (const std::string& name : names_) key += name + (&name == &names_.back() ? "" : ",");
    return key + "]";
}

void HostPreflight::start(Done done) {
    done_ = std::move(done);
    cache_ = read_cache(request_.cache);
    size_t count = std::min<size_t>(compute_.hosts.size(), static_cast<size_t>(std::max(1, request_.nodes)));
    for (size_t index = 0; index < count; ++index) {
        checks_.push_back(std::make_unique<HostCheck>(loop_));
        checks_.back()->facts.host = compute_.hosts[index].name;
    }
    if (known_local_version()) {
        local_version_ = known_local_version();
    } else {
        local_ompi_ = std::make_unique<CommandRun>(loop_);
        local_ompi_->start({"mpirun", "--version"}, std::chrono::seconds(20), [this](CommandResult result) {
            std::string first = result.out.substr(0, result.out.find('\n'));
            local_version_ = result.success() ? ompi_version_from(first) : "";
            known_local_version() = local_version_;
            maybe_finish();
        });
    }
    for (size_t index = 0; index < checks_.size(); ++index) ask_host(index);
    if (checks_.empty()) maybe_finish();
}

void HostPreflight::ask_host(size_t index) {
    HostCheck& check = *checks_[index];
    std::optional<PackageStamp> cached;
    auto entry = cache_.find(cache_key(check.facts.host));
    if (entry != cache_.end() && entry->is_object()) {
        PackageStamp stamp;
        stamp.identity = entry->value("identity", "");
        for (const json& path : entry->value("watched", json::array())) {
            if (path.is_string()) stamp.watched.push_back(path.get<std::string>());
        }
        if (!stamp.identity.empty()) cached = stamp;
    }
    std::string remote =
        preflight_command(request_.python, names_, cached ? &*cached : nullptr, index == 0 ? request_.master_port : 0);
    auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(request_.limit);
    check.run.start(ssh_command(compute_, check.facts.host, remote), limit,
                    [this, index](CommandResult result) { answered(index, std::move(result)); });
}

void HostPreflight::answered(size_t index, CommandResult result) {
    HostCheck& check = *checks_[index];
    std::string seconds = std::to_string(request_.limit.count());
    if (!result.started) return unreachable(index, "cannot run ssh: " + result.error);
    if (result.timed_out) return unreachable(index, "no answer within " + seconds + " s");
    // 255 is ssh's own failure; the script itself always ends with an echo.
    if (result.status.signaled || result.status.code == 255) {
        std::string said = result.last_line();
        return unreachable(index, said.empty() ? "ssh " + result.status.describe() : said);
    }
    PreflightAnswer answer = parse_preflight_answer(result.out);
    if (!answer.complete) {
        return unreachable(index, "the check did not run to its end (" + result.status.describe() +
                                      "): " + result.last_line());
    }
    check.facts.reachable = true;
    check.facts.address = answer.address;
    check.facts.hostname = answer.hostname;
    check.facts.ompi_version = answer.ompi_version;
    check.facts.cores = answer.cores;
    check.facts.free_port = answer.free_port;
    check.facts.gpus = answer.gpus;
    check.facts.python = answer.python;
    check.facts.python_version = answer.python_version;
    check.facts.packages_from_cache = answer.packages_cached;
    std::string key = cache_key(check.facts.host);
    if (answer.stamp) {
        cache_[key] = {{"watched", answer.stamp->watched}, {"identity", answer.stamp->identity}};
        cache_changed_ = true;
    } else if (!answer.packages_cached && cache_.erase(key) > 0) {
        cache_changed_ = true;
    }
    check.answer = std::move(answer);
    check.done = true;
    maybe_finish();
}

// Asks ssh (locally, no network) which address it would have used, for the message.
void HostPreflight::unreachable(size_t index, const std::string& said) {
    HostCheck& check = *checks_[index];
    check.unreachable = said;
    std::vector<std::string> argv = {"ssh", "-G"};
    for (std::string& option : ssh_options(compute_)) argv.push_back(std::move(option));
    argv.push_back(check.facts.host);
    check.run.start(argv, std::chrono::seconds(10), [this, index](CommandResult result) {
        HostCheck& check = *checks_[index];
        if (result.success()) check.facts.address = resolved_hostname(result.out);
        check.done = true;
        maybe_finish();
    });
}

void HostPreflight::judge(size_t index, const PreflightAnswer& answer) {
    HostCheck& check = *checks_[index];
    std::string label = host_label(check.facts.host, check.facts.address) + ": ";
    auto problem = [&](const std::string& text) { report_.problems.push_back(label + text); };
    if (answer.ompi_version.empty()) {
        problem("no Open MPI ('mpirun --version' and 'ompi_info --version' found none)");
    } else if (!local_version_->empty() && answer.ompi_version != *local_version_) {
        problem("Open MPI " + answer.ompi_version + ", but this machine has " + *local_version_);
    }
    if (answer.python.empty()) {
        problem("no interpreter '" + request_.python + "'");
    } else if (!answer.packages_cached && !answer.python_ran) {
        std::string why = answer.python_failure.empty() ? "" : ": " + answer.python_failure;
        problem("the interpreter " + answer.python + " does not run" + why);
    }
    for (const std::string& name : answer.missing) problem("no package '" + name + "' for " + answer.python);
    int gpus = static_cast<int>(answer.gpus.size());
    if (gpus < request_.gpus_per_host) {
        problem(plural(gpus, "GPU") + ", but the job asks for " + std::to_string(request_.gpus_per_host) +
                " per host");
    }
    int slots = compute_.hosts[index].slots;
    if (slots < request_.processes_per_node) {
        problem(plural(slots, "slot") + " in the host list, but the job puts " +
                plural(request_.processes_per_node, "process") + " on each host");
    }
    if (answer.cores > 0 && answer.cores < request_.processes_per_node) {
        report_.warnings.push_back(label + plural(answer.cores, "core") + " for " +
                                   plural(request_.processes_per_node, "rank") + ": they will share");
    }
}

void HostPreflight::maybe_finish() {
    if (finished_ || finish_timer_ != 0 || !local_version_) return;
    for (const auto& check : checks_) {
        if (!check->done) return;
    }
    // From a timer, not from inside a CommandRun's callback: `done` may destroy this.
    finish_timer_ = loop_.after(std::chrono::milliseconds(0), [this] {
        finish_timer_ = 0;
        report_.local_ompi_version = *local_version_;
        if (local_version_->empty()) {
            report_.problems.push_back("this machine has no Open MPI ('mpirun --version' failed): it starts the ranks");
        }
        for (size_t index = 0; index < checks_.size(); ++index) {
            HostCheck& check = *checks_[index];
            if (check.answer) {
                judge(index, *check.answer);
            } else {
                report_.problems.push_back(host_label(check.facts.host, check.facts.address) +
                                           ": cannot be reached: " + check.unreachable);
            }
            report_.hosts.push_back(check.facts);
        }
        if (cache_changed_ && !request_.cache.empty()) write_cache(request_.cache, cache_);
        finished_ = true;
        Done done = std::move(done_);
        if (done) done(report_);
    });
}

}  // namespace amlflow::runtime
