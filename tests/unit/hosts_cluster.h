// The fake cluster as the hosts end-to-end tests see it (tests/cluster/on_private_cluster.sh exports
// AMLFLOW_FAKE_CLUSTER_*), and what they do with it: a `hosts` compute over its first two
// hosts, the processes left in its namespaces, the veth of a host, and a job that marks
// each rank up and then sleeps. Shared by test_hosts_e2e.cc and test_hosts_faults_e2e.cc.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdio>

#include "tests/unit/e2e_harness.h"

namespace {

// A string as an amlflow literal, quotes and escapes included.
std::string literal(const std::string& text) { return json(text).dump(); }
std::string literal(const fs::path& path) { return json(path.string()).dump(); }

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

// What the wrapper exported about the cluster.
struct Cluster {
    std::string ssh_config, subnet, workdir, hidden;
    std::vector<std::string> hosts, addresses, namespaces;

    static const Cluster& get() {
        static const Cluster cluster = [] {
            Cluster c;
            c.ssh_config = env_or_empty("AMLFLOW_FAKE_CLUSTER_SSH_CONFIG");
            c.subnet = env_or_empty("AMLFLOW_FAKE_CLUSTER_SUBNET");
            c.workdir = env_or_empty("AMLFLOW_FAKE_CLUSTER_WORKDIR");
            c.hidden = env_or_empty("AMLFLOW_FAKE_CLUSTER_HIDDEN");
            c.hosts = words(env_or_empty("AMLFLOW_FAKE_CLUSTER_HOSTS"));
            c.addresses = words(env_or_empty("AMLFLOW_FAKE_CLUSTER_ADDRESSES"));
            c.namespaces = words(env_or_empty("AMLFLOW_FAKE_CLUSTER_NAMESPACES"));
            return c;
        }();
        return cluster;
    }
    bool usable() const {
        return !ssh_config.empty() && !subnet.empty() && hosts.size() >= 2 && addresses.size() == hosts.size() &&
               namespaces.size() == hosts.size();
    }
    // "P-h1:2", "P-h2:2" as an amlflow list, and a `hosts` compute over them.
    std::string compute(const std::string& name, const std::string& extra = "",
                        const std::string& ssh = "") const {
        return "compute " + name + " : hosts {\n  hosts = [" + literal(hosts[0] + ":2") + ", " + literal(hosts[1] + ":2") +
               "]\n  ssh_config = " + literal(ssh.empty() ? ssh_config : ssh) + "\n  interface = " + literal(subnet) +
               "\n" + extra + "}\n";
    }
};

struct ClusterPresent {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result ok(Cluster::get().usable());
        ok.message() << "no fake cluster: run through tests/cluster/on_private_cluster.sh (needs root)";
        return ok;
    }
};

// A shell command's stdout (tests only: fixed commands, no user input).
std::string shell_output(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    pclose(pipe);
    return out;
}

int shell(const std::string& command) { return std::system(command.c_str()); }

// The live processes in a host's namespace other than the cluster's own sshd (its listener
// and the sessions of whoever is logged in), as "pid command" lines.
std::vector<std::string> leftovers(const std::string& ns) {
    std::vector<std::string> out;
    for (const std::string& word : words(shell_output("ip netns pids " + ns + " 2>/dev/null"))) {
        long pid = std::atol(word.c_str());
        if (!process_alive(pid)) continue;
        std::string comm = read_file("/proc/" + word + "/comm");
        if (!comm.empty() && comm.back() == '\n') comm.pop_back();
        if (comm == "sshd") continue;
        std::string cmdline = read_file("/proc/" + word + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        out.push_back(word + " " + cmdline.substr(0, 160));
    }
    return out;
}

std::vector<std::string> leftovers_anywhere() {
    std::vector<std::string> out;
    for (const std::string& ns : Cluster::get().namespaces) {
        for (const std::string& line : leftovers(ns)) out.push_back(ns + ": " + line);
    }
    return out;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& line : lines) out += "\n  " + line;
    return out;
}

// The veth on this machine whose peer is `ns`'s eth0: the one whose ifindex is eth0's iflink.
std::string veth_of(const std::string& ns) {
    std::string peer = shell_output("ip netns exec " + ns + " cat /sys/class/net/eth0/iflink");
    while (!peer.empty() && (peer.back() == '\n' || peer.back() == ' ')) peer.pop_back();
    for (const auto& entry : fs::directory_iterator("/sys/class/net")) {
        std::string index = read_file(entry.path() / "ifindex");
        while (!index.empty() && index.back() == '\n') index.pop_back();
        if (!peer.empty() && index == peer) return entry.path().filename().string();
    }
    return "";
}

// The ranks' marks: each rank writes "<pid> <hostname>" to <folder>/up-<rank> when it runs.
bool all_up(const fs::path& folder, int ranks) {
    for (int rank = 0; rank < ranks; ++rank) {
        if (read_file(folder / ("up-" + std::to_string(rank))).find('\n') == std::string::npos) return false;
    }
    return true;
}

std::vector<long> rank_pids(const fs::path& folder, int ranks) {
    std::vector<long> pids;
    for (int rank = 0; rank < ranks; ++rank) pids.push_back(read_pid(folder / ("up-" + std::to_string(rank))));
    return pids;
}

json read_json(const fs::path& file) { return json::parse(read_file(file), nullptr, false); }

// A job that marks itself up and then sleeps: for the signal and link tests.
const char* kSleeper = R"PY(import os, socket, sys, time
marks = sys.argv[1]
with open(os.path.join(marks, "up-" + os.environ["RANK"] + ".tmp"), "w") as f:
    f.write("%d %s\n" % (os.getpid(), socket.gethostname()))
os.rename(os.path.join(marks, "up-" + os.environ["RANK"] + ".tmp"), os.path.join(marks, "up-" + os.environ["RANK"]))
print("up", os.environ["RANK"], socket.gethostname(), flush=True)
time.sleep(300)
)PY";

void write_sleeper(Sandbox& box, const fs::path& marks) {
    fs::create_directories(marks);
    box.write("src/sleeper.py", kSleeper);
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\n" + Cluster::get().compute("farm") +
                               "experiment e {\n  job s {\n    source = \"src\", script = \"sleeper.py\", environment = py\n"
                               "    compute = farm, args = [" + literal(marks) + "]\n"
                               "    distribution = pytorch { nodes = 2, processes_per_node = 2 }\n  }\n}\n");
}

// Signals amlflow once all four ranks run; then no process of the run may be left on any
// host within 5 s of amlflow's end.
void stop_and_check_nothing_left(int sig, int expected_code) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    fs::path marks = box.path("marks");
    write_sleeper(box, marks);
    auto process = box.start({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return all_up(marks, 4); }, 120), "the ranks did not all start");
    std::vector<long> pids = rank_pids(marks, 4);
    for (int rank = 0; rank < 4; ++rank) {
        BOOST_TEST(contains(read_file(marks / ("up-" + std::to_string(rank))), cluster.hosts[rank / 2]));
    }
    process->signal(sig);
    Outcome r = process->wait(60);
    BOOST_TEST(r.finished);
    if (sig == SIGKILL) BOOST_TEST((r.signaled && r.signal == SIGKILL), r);
    else BOOST_TEST(r.code == expected_code, r);
    auto ended = Clock::now();
    bool clean = wait_until([] { return leftovers_anywhere().empty(); }, 5);
    BOOST_TEST(clean, "left on the hosts " << seconds_since(ended) << " s after amlflow ended:" << joined(leftovers_anywhere()));
    for (long pid : pids) BOOST_TEST(!process_alive(pid), "rank pid " << pid << " still runs");
}

}  // namespace
