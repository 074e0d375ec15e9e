#include "runtime/hosts/ssh_masters.h"

#include <chrono>
#include <sstream>

#include <sys/stat.h>

namespace amlflow::runtime {

namespace {

// Often enough that mpirun starts within a few ms of the connections; a stat() each.
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// The `controlpath` line of `ssh -G host`: the socket's path, tokens expanded.
std::string control_path(const std::string& out) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("controlpath ", 0) == 0) return line.substr(12);
    }
    return "";
}

bool is_socket(const std::string& path) {
    struct stat info {};
    return stat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

}  // namespace

SshMasters::SshMasters(EventLoop& loop, HostsCompute compute, std::vector<std::string> hosts)
    : loop_(loop), compute_(std::move(compute)), hosts_(std::move(hosts)) {}

SshMasters::~SshMasters() { loop_.cancel(poll_timer_); }

void SshMasters::wait(Ready ready) {
    ready_ = std::move(ready);
    if (ssh_control_folder().empty() || hosts_.empty()) {
        poll_timer_ = loop_.after(std::chrono::milliseconds(0), [this] { fire(); });
        return;
    }
    sockets_.resize(hosts_.size());
    for (std::size_t index = 0; index < hosts_.size(); ++index) {
        std::vector<std::string> argv = {"ssh", "-G"};
        for (std::string& option : ssh_options(compute_)) argv.push_back(std::move(option));
        argv.push_back(hosts_[index]);
        asks_.push_back(std::make_unique<CommandRun>(loop_));
        asks_.back()->start(argv, std::chrono::seconds(5),
                            [this, index](CommandResult result) { located(index, result); });
    }
}

void SshMasters::located(std::size_t index, const CommandResult& result) {
    if (!ready_) return;
    sockets_[index] = result.success() ? control_path(result.out) : "";
    // Where ssh cannot say, there is nothing to wait for: mpirun starts as it would anyway.
    if (sockets_[index].empty()) return fire();
    if (++answered_ == hosts_.size()) poll();
}

void SshMasters::poll() {
    poll_timer_ = 0;
    if (!ready_) return;
    for (const std::string& socket : sockets_) {
        if (!is_socket(socket)) {
            poll_timer_ = loop_.after(kPollInterval, [this] { poll(); });
            return;
        }
    }
    fire();
}

void SshMasters::fire() {
    if (!ready_) return;
    loop_.cancel(poll_timer_);
    poll_timer_ = 0;
    Ready ready = std::move(ready_);
    ready_ = nullptr;
    ready();
}

}  // namespace amlflow::runtime
