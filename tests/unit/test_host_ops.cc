// What amlflow does to hosts before and around a `hosts` job: the preflight script and its
// answer, the staging layout and command lines, both run for real on this machine (sh and
// rsync, no ssh) and, where a fake cluster is up (tests/cluster/on_private_cluster.sh), over ssh.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/hosts/command_run.h"
#include "runtime/hosts/host_preflight.h"
#include "runtime/hosts/host_staging.h"
#include "tests/unit/test_support.h"

using namespace amlflow::runtime;
using amlflow::testing::TempProject;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

CommandResult run_command(EventLoop& loop, const std::vector<std::string>& argv,
                          std::chrono::milliseconds limit = 60s) {
    CommandRun run(loop);
    std::optional<CommandResult> result;
    run.start(argv, limit, [&](CommandResult done) { result = std::move(done); });
    BOOST_REQUIRE(loop.run_until([&] { return result.has_value(); }, EventLoop::Clock::now() + limit + 10s));
    return *result;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds limit = 60s) {
    EventLoop loop;
    return run_command(loop, argv, limit);
}

// The preflight script run here, with sh instead of ssh.
PreflightAnswer preflight_here(const std::vector<std::string>& names, const PackageStamp* cached) {
    CommandResult result = run_command({"sh", "-c", preflight_command("/usr/bin/python3", names, cached)});
    BOOST_REQUIRE_MESSAGE(result.success(), result.err);
    return parse_preflight_answer(result.out);
}

std::string local_hostname() {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    return name;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

HostsCompute compute_for(std::vector<std::string> hosts, const std::string& config = "") {
    HostsCompute compute;
    compute.compute = "farm";
    for (auto& host : hosts) compute.hosts.push_back({host, 2});
    compute.ssh_config = config;
    return compute;
}

PreflightReport run_preflight(const HostsCompute& compute, const PreflightRequest& request) {
    EventLoop loop;
    HostPreflight preflight(loop, compute, request);
    std::optional<PreflightReport> report;
    preflight.start([&](const PreflightReport& done) { report = done; });
    BOOST_REQUIRE(loop.run_until([&] { return report.has_value(); }, EventLoop::Clock::now() + 120s));
    return *report;
}

StagingOutcome run_staging(HostStaging& staging, EventLoop& loop, const std::function<void(HostStaging::Done)>& call) {
    std::optional<StagingOutcome> outcome;
    call([&](const StagingOutcome& done) { outcome = done; });
    BOOST_REQUIRE(loop.run_until([&] { return outcome.has_value(); }, EventLoop::Clock::now() + 180s));
    (void)staging;
    return *outcome;
}

bool contains(const std::vector<std::string>& messages, const std::string& text) {
    for (const std::string& message : messages) {
        if (message.find(text) != std::string::npos) return true;
    }
    return false;
}

std::string joined(const std::vector<std::string>& messages) {
    std::string out;
    for (const std::string& message : messages) out += message + "\n";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(host_ops)

BOOST_AUTO_TEST_CASE(a_command_runs_on_the_loop_with_its_output_and_status) {
    CommandResult result = run_command({"sh", "-c", "echo out; echo first >&2; echo last >&2; exit 3"});
    BOOST_CHECK(result.started);
    BOOST_CHECK(!result.success());
    BOOST_CHECK_EQUAL(result.status.code, 3);
    BOOST_CHECK_EQUAL(result.out, "out\n");
    BOOST_CHECK_EQUAL(result.last_line(), "last");

    CommandResult slow = run_command({"sleep", "30"}, 200ms);
    BOOST_CHECK(slow.timed_out);
    BOOST_CHECK(!slow.success());

    CommandResult missing = run_command({"amlflow-no-such-program"});
    BOOST_CHECK(!missing.started);
    BOOST_CHECK_NE(missing.error.find("amlflow-no-such-program"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_answer_is_read_between_its_markers) {
    std::string out =
        "Welcome to node2\nhostname=not-this\n"
        "amlflow-preflight-begin\nhostname=node2\naddress=10.0.0.12\nompi=mpirun (Open MPI) 4.1.4\ncores=8\n"
        "gpu=0, GPU-aaaa\ngpu=1, GPU-bbbb\npython=/usr/bin/python3\npython_status=0\n"
        "py=a .pth file printing\n"
        "py=amlflow-host-check {\"missing\": [\"torch\"], \"watch\": [\"/usr/bin/python3\"], "
        "\"identity\": \"+|1:2:3 \", \"racy\": false, \"version\": \"3.11.2\"}\n"
        "amlflow-preflight-end\nhostname=after\n";
    PreflightAnswer answer = parse_preflight_answer(out);
    BOOST_CHECK(answer.complete);
    BOOST_CHECK_EQUAL(answer.hostname, "node2");
    BOOST_CHECK_EQUAL(answer.address, "10.0.0.12");
    BOOST_CHECK_EQUAL(answer.ompi_version, "4.1.4");
    BOOST_CHECK_EQUAL(answer.cores, 8);
    BOOST_REQUIRE_EQUAL(answer.gpus.size(), 2u);
    BOOST_CHECK_EQUAL(answer.gpus[1].index, 1);
    BOOST_CHECK_EQUAL(answer.gpus[1].uuid, "GPU-bbbb");
    BOOST_CHECK_EQUAL(answer.python, "/usr/bin/python3");
    BOOST_CHECK(answer.python_ran);
    BOOST_CHECK_EQUAL(answer.python_version, "3.11.2");
    BOOST_REQUIRE_EQUAL(answer.missing.size(), 1u);
    BOOST_CHECK_EQUAL(answer.missing[0], "torch");
    BOOST_CHECK(!answer.stamp);  // something is missing: nothing to cache

    std::string all_there = out;
    all_there.replace(all_there.find("[\"torch\"]"), 9, "[]");
    PreflightAnswer good = parse_preflight_answer(all_there);
    BOOST_REQUIRE(good.stamp);
    BOOST_CHECK_EQUAL(good.stamp->identity, "/usr/bin/python3|+|1:2:3 ");
    BOOST_CHECK_EQUAL(good.stamp->watched.size(), 1u);

    std::string racy = all_there;
    racy.replace(racy.find("\"racy\": false"), 13, "\"racy\": true");
    BOOST_CHECK(!parse_preflight_answer(racy).stamp);
}

BOOST_AUTO_TEST_CASE(a_cut_off_or_failing_answer_says_so) {
    PreflightAnswer cut = parse_preflight_answer("amlflow-preflight-begin\nhostname=a\n");
    BOOST_CHECK(!cut.complete);
    PreflightAnswer broken = parse_preflight_answer(
        "amlflow-preflight-begin\npython=/opt/py\npython_status=1\n"
        "py=Traceback (most recent call last):\npy=ImportError: bad magic\namlflow-preflight-end\n");
    BOOST_CHECK(broken.complete);
    BOOST_CHECK(!broken.python_ran);
    BOOST_CHECK_EQUAL(broken.python_failure, "ImportError: bad magic");
    BOOST_CHECK(broken.ompi_version.empty());
    BOOST_CHECK_EQUAL(ompi_version_from("Open MPI v4.1.4"), "4.1.4");
    BOOST_CHECK_EQUAL(ompi_version_from("mpirun (Open MPI) 5.0.3"), "5.0.3");
    BOOST_CHECK_EQUAL(ompi_version_from("mpirun (MPICH) 4.0"), "");
}

BOOST_AUTO_TEST_CASE(the_preflight_script_answers_for_this_machine) {
    PreflightAnswer answer = preflight_here({"torch", "amlflow-no-such-package"}, nullptr);
    BOOST_REQUIRE(answer.complete);
    BOOST_CHECK_EQUAL(answer.hostname, local_hostname());
    CommandResult mpirun = run_command({"mpirun", "--version"});
    BOOST_CHECK_EQUAL(answer.ompi_version, ompi_version_from(mpirun.out.substr(0, mpirun.out.find('\n'))));
    BOOST_CHECK_EQUAL(answer.cores, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
    BOOST_CHECK_EQUAL(answer.python, "/usr/bin/python3");
    BOOST_CHECK(answer.python_ran);
    BOOST_REQUIRE_EQUAL(answer.missing.size(), 1u);
    BOOST_CHECK_EQUAL(answer.missing[0], "amlflow-no-such-package");
    BOOST_CHECK(!answer.stamp);
}

// The first host is asked about the rendezvous port this machine chose: a port something
// listens on there is replaced by one nothing listens on; a free one stands.
BOOST_AUTO_TEST_CASE(the_first_host_says_whether_the_rendezvous_port_is_free_there) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    BOOST_REQUIRE(listener >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_REQUIRE(listen(listener, 1) == 0);
    socklen_t length = sizeof address;
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    int taken = ntohs(address.sin_port);

    CommandResult busy = run_command({"sh", "-c", preflight_command("/usr/bin/python3", {}, nullptr, taken)});
    PreflightAnswer moved = parse_preflight_answer(busy.out);
    BOOST_REQUIRE(moved.complete);
    BOOST_CHECK_NE(moved.free_port, taken);
    BOOST_CHECK(moved.free_port >= 20000 && moved.free_port < 50000);
    // The port offered instead can be listened on.
    int other = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in offered = address;
    offered.sin_port = htons(static_cast<uint16_t>(moved.free_port));
    BOOST_CHECK(bind(other, reinterpret_cast<sockaddr*>(&offered), sizeof offered) == 0);
    close(other);
    close(listener);

    CommandResult free = run_command({"sh", "-c", preflight_command("/usr/bin/python3", {}, nullptr, taken)});
    BOOST_CHECK_EQUAL(parse_preflight_answer(free.out).free_port, taken);
    BOOST_CHECK_EQUAL(parse_preflight_answer(run_command({"sh", "-c", preflight_command("/usr/bin/python3", {}, nullptr)}).out)
                          .free_port,
                      0);
}

BOOST_AUTO_TEST_CASE(an_interpreter_that_is_not_there_or_does_not_run_is_told_apart) {
    CommandResult none = run_command({"sh", "-c", preflight_command("/no/such/python3", {"torch"}, nullptr)});
    PreflightAnswer missing = parse_preflight_answer(none.out);
    BOOST_CHECK(missing.complete);
    BOOST_CHECK(missing.python.empty());
    BOOST_CHECK(!missing.python_ran);

    TempProject project;
    fs::path broken = project.write("bin/python3", "#!/bin/sh\necho 'fatal: no site module' >&2\nexit 1\n");
    fs::permissions(broken, fs::perms::owner_all);
    CommandResult ran = run_command({"sh", "-c", preflight_command(broken.string(), {}, nullptr)});
    PreflightAnswer failing = parse_preflight_answer(ran.out);
    BOOST_CHECK_EQUAL(failing.python, broken.string());
    BOOST_CHECK(!failing.python_ran);
    BOOST_CHECK_EQUAL(failing.python_failure, "fatal: no site module");
}

BOOST_AUTO_TEST_CASE(an_answer_still_true_is_given_by_stat_without_python) {
    PreflightAnswer first = preflight_here({"torch"}, nullptr);
    BOOST_REQUIRE(first.python_ran);
    BOOST_REQUIRE(first.missing.empty());
    BOOST_REQUIRE_MESSAGE(first.stamp, "site-packages changed in the last 2 s: run again");
    BOOST_CHECK_EQUAL(first.stamp->watched.front(), "/usr/bin/python3");

    PreflightAnswer again = preflight_here({"torch"}, &*first.stamp);
    BOOST_CHECK(again.packages_cached);
    BOOST_CHECK(!again.python_ran);
    BOOST_CHECK_EQUAL(again.python, "/usr/bin/python3");

    // Something it rested on changed (here: a watched file that appeared): Python asked again.
    TempProject project;
    PackageStamp changed = *first.stamp;
    changed.watched.push_back(project.write("later.pth", "import os\n").string());
    PreflightAnswer asked = preflight_here({"torch"}, &changed);
    BOOST_CHECK(!asked.packages_cached);
    BOOST_CHECK(asked.python_ran);
}

BOOST_AUTO_TEST_CASE(gpus_asked_reads_counts_and_indexes) {
    BOOST_CHECK_EQUAL(gpus_asked(json(2)), 2);
    BOOST_CHECK_EQUAL(gpus_asked(json::array({0, 3})), 4);
    BOOST_CHECK_EQUAL(gpus_asked(json("all")), 0);
    BOOST_CHECK_EQUAL(gpus_asked(json("none")), 0);
}

BOOST_AUTO_TEST_CASE(a_host_that_does_not_resolve_is_named_with_what_ssh_said) {
    TempProject project;
    PreflightRequest request;
    request.nodes = 2;
    request.python = "/usr/bin/python3";
    request.cache = project.root() / "cache";
    HostsCompute compute = compute_for({"amlflow-no-such-host.invalid", "other.invalid", "unused.invalid"});
    PreflightReport report = run_preflight(compute, request);
    BOOST_CHECK_EQUAL(report.hosts.size(), 2u);  // only the job's `nodes` hosts
    BOOST_CHECK(!report.ok());
    BOOST_TEST_MESSAGE(joined(report.problems));
    BOOST_CHECK(contains(report.problems, "host 'amlflow-no-such-host.invalid': cannot be reached: ssh: Could not "
                                          "resolve hostname amlflow-no-such-host.invalid"));
    BOOST_CHECK(contains(report.problems, "host 'other.invalid': cannot be reached"));
    BOOST_CHECK(!contains(report.problems, "unused"));
    BOOST_CHECK(!report.hosts[0].reachable);
    BOOST_CHECK(!fs::exists(request.cache / "host-packages.json"));
}

BOOST_AUTO_TEST_CASE(the_staging_mode_follows_shared_fs_and_workdir) {
    HostsCompute compute = compute_for({"a"});
    BOOST_CHECK(staging_mode(compute, "/runs/.amlflow") == StagingMode::none);
    compute.workdir = "/runs/.amlflow/";
    BOOST_CHECK(staging_mode(compute, "/runs/.amlflow") == StagingMode::none);
    compute.workdir = "/scratch";
    BOOST_CHECK(staging_mode(compute, "/runs/.amlflow") == StagingMode::local_copy);
    compute.shared_fs = false;
    BOOST_CHECK(staging_mode(compute, "/runs/.amlflow") == StagingMode::per_host);
}

BOOST_AUTO_TEST_CASE(the_layout_puts_content_under_its_hash_and_attempts_under_the_run) {
    TempProject project;
    project.write("snap/train.py", "print(1)\n");
    project.write("helper/amlflow/__init__.py", "");
    fs::path shim = project.write("bin/amlflow-rank", "#!/bin/sh\n");
    project.write("data/a.csv", "1,2\n");
    fs::last_write_time(project.write("same/a.csv", "1,2\n"), fs::last_write_time(project.root() / "data/a.csv"));
    fs::path weights = project.write("w/model.pt", "weights");
    StagingRequest request{"run-7", "train", 2, (project.root() / "snap").string(), (project.root() / "helper").string(),
                           shim.string(), {(project.root() / "data").string(), weights.string()}};
    std::string error;
    auto items = staged_items(request, &error);
    BOOST_REQUIRE_MESSAGE(items, error);
    BOOST_REQUIRE_EQUAL(items->size(), 5u);
    RemoteLayout layout = remote_layout("/scratch/amlflow/", request, *items);
    BOOST_CHECK_EQUAL(layout.snapshot, "/scratch/amlflow/cache/" + (*items)[0].hash);
    BOOST_CHECK_EQUAL((*items)[0].hash.size(), 64u);
    BOOST_CHECK_EQUAL(layout.shim, "/scratch/amlflow/cache/" + (*items)[2].hash + "/amlflow-rank");
    BOOST_CHECK_EQUAL(layout.inputs.at(weights.string()), "/scratch/amlflow/cache/" + (*items)[4].hash + "/model.pt");
    BOOST_CHECK_EQUAL(layout.attempt, "/scratch/amlflow/run-7/train/attempt-2");
    BOOST_CHECK_EQUAL(layout.outputs, "/scratch/amlflow/run-7/train/attempt-2/outputs");
    BOOST_CHECK_EQUAL(layout.metrics, "/scratch/amlflow/run-7/train/attempt-2/metrics");
    BOOST_CHECK_EQUAL(layout.checkpoints, "/scratch/amlflow/run-7/train/checkpoints");
    BOOST_CHECK_EQUAL(layout.remote_path((project.root() / "data" / "a.csv").string()),
                      layout.inputs.at((project.root() / "data").string()) + "/a.csv");
    BOOST_CHECK_EQUAL(layout.remote_path("/elsewhere/x"), "");

    // An input's hash is its listing (names, sizes, mtimes): the same elsewhere is the same
    // hash; a file's name is part of its hash.
    auto same = staged_items({"r", "s", 1, "", "", "", {(project.root() / "same").string()}}, &error);
    BOOST_REQUIRE(same);
    BOOST_CHECK_EQUAL((*same)[0].hash, (*items)[3].hash);
    fs::path renamed = project.write("w2/other.pt", "weights");
    auto other = staged_items({"r", "s", 1, "", "", "", {renamed.string()}}, &error);
    BOOST_REQUIRE(other);
    BOOST_CHECK_NE((*other)[0].hash, (*items)[4].hash);

    BOOST_CHECK(!staged_items({"r", "s", 1, "", "", "", {"/no/such/input"}}, &error));
    BOOST_CHECK_NE(error.find("'/no/such/input'"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(rsync_and_ssh_lines_carry_the_compute_s_options) {
    HostsCompute compute = compute_for({"node1"}, "/etc/my ssh/config");
    auto push = rsync_push(compute, "node1", "/snap/", true, "/w/cache/abc", true);
    BOOST_REQUIRE_EQUAL(push.size(), 7u);
    BOOST_CHECK_EQUAL(push[0], "rsync");
    BOOST_CHECK_EQUAL(push[2], "--delete");
    BOOST_CHECK_EQUAL(push[3], "-e");
    BOOST_CHECK_EQUAL(push[4].rfind("ssh -F '/etc/my ssh/config' -o BatchMode=yes", 0), 0u);
    BOOST_CHECK_EQUAL(push[5], "/snap/");
    BOOST_CHECK_EQUAL(push[6], "node1:/w/cache/abc/");
    auto file = rsync_push(compute, "fe80::1", "/bin/amlflow-rank", false, "/w/cache/def", false);
    BOOST_CHECK_EQUAL(file[1], "-a");
    BOOST_CHECK_EQUAL(file[2], "-e");
    BOOST_CHECK_EQUAL(file[4], "/bin/amlflow-rank");
    BOOST_CHECK_EQUAL(file[5], "[fe80::1]:/w/cache/def/");
    auto pull = rsync_pull(compute, "node1", "/w/run/train/attempt-1/outputs", "/store/outputs", false);
    BOOST_CHECK_EQUAL(pull[4], "node1:/w/run/train/attempt-1/outputs/");
    BOOST_CHECK_EQUAL(pull[5], "/store/outputs/");
    auto here = rsync_pull(compute, "", "/w/x", "/y", true);
    BOOST_CHECK_EQUAL(here.size(), 5u);  // no ssh for this machine
    auto local = target_command(compute, "", "echo hi");
    BOOST_CHECK_EQUAL(local.size(), 3u);
    BOOST_CHECK_EQUAL(local[0], "sh");
    auto remote = target_command(compute, "node1", "echo 'hi'");
    BOOST_CHECK_EQUAL(remote.back(), "sh -c 'echo '\\''hi'\\'''");

    RemoteLayout layout;
    layout.workdir = "/w";
    layout.outputs = "/w/r/s/attempt-1/outputs";
    layout.logs = "/w/r/s/attempt-1/logs";
    layout.metrics = "/w/r/s/attempt-1/metrics";
    layout.checkpoints = "/w/r/s/checkpoints";
    std::string probe = probe_script(layout, {{"/a", "aaa", false}, {"/b", "bbb", true}});
    BOOST_CHECK_NE(probe.find("mkdir -p /w/r/s/attempt-1/outputs /w/r/s/attempt-1/logs"), std::string::npos);
    BOOST_CHECK_NE(probe.find("for h in aaa bbb;"), std::string::npos);
    BOOST_CHECK_EQUAL(mark_script("/w", {"aaa", "bbb"}), "cd /w/cache && touch aaa.done bbb.done");
    auto present = hashes_present("noise\nhave=aaa\nhave=bbb\n");
    BOOST_CHECK_EQUAL(present.size(), 2u);
}

// shared_fs = true with a workdir of its own: one copy here, with the same markers, attempt
// folders, checkpoints out and outputs back as over ssh.
BOOST_AUTO_TEST_CASE(a_shared_workdir_is_staged_once_here) {
    TempProject project;
    project.write("snap/train.py", "print(1)\n");
    project.write("data/a.csv", "1,2\n");
    project.write("ckpt/epoch-1.pt", "one");
    fs::path shim = project.write("bin/amlflow-rank", "#!/bin/sh\n");
    HostsCompute compute = compute_for({"node1", "node2"});
    compute.workdir = (project.root() / "work").string();
    StagingRequest request{"run-1", "train", 1, (project.root() / "snap").string(), "", shim.string(),
                           {(project.root() / "data").string()}};
    EventLoop loop;
    HostStaging staging(loop, compute, StagingMode::local_copy, {"node1", "node2"});
    std::string error;
    BOOST_REQUIRE_MESSAGE(staging.prepare(request, &error), error);
    const RemoteLayout& layout = staging.layout();
    std::string checkpoints = (project.root() / "ckpt").string();
    StagingOutcome first = run_staging(staging, loop, [&](auto done) { staging.push(checkpoints, done); });
    BOOST_REQUIRE_MESSAGE(first.ok(), joined(first.problems));
    BOOST_CHECK_EQUAL(first.copied.size(), 3u);
    BOOST_CHECK_EQUAL(read_text(fs::path(layout.snapshot) / "train.py"), "print(1)\n");
    BOOST_CHECK_EQUAL(read_text(layout.inputs.at(request.inputs[0]) + "/a.csv"), "1,2\n");
    BOOST_CHECK_EQUAL(read_text(layout.shim), "#!/bin/sh\n");
    BOOST_CHECK(fs::exists(fs::path(layout.snapshot).string() + ".done"));
    BOOST_CHECK(fs::is_directory(layout.outputs));
    BOOST_CHECK(fs::is_directory(layout.metrics));
    BOOST_CHECK_EQUAL(read_text(fs::path(layout.checkpoints) / "epoch-1.pt"), "one");

    StagingOutcome second = run_staging(staging, loop, [&](auto done) { staging.push(checkpoints, done); });
    BOOST_REQUIRE_MESSAGE(second.ok(), joined(second.problems));
    BOOST_CHECK_MESSAGE(second.copied.empty(), joined(second.copied));

    // A copy cut off before its marker is sent again.
    fs::remove(fs::path(layout.snapshot).string() + ".done");
    StagingOutcome redo = run_staging(staging, loop, [&](auto done) { staging.push(checkpoints, done); });
    BOOST_CHECK_EQUAL(redo.copied.size(), 1u);

    std::ofstream(fs::path(layout.outputs) / "model.pt") << "trained";
    std::ofstream(fs::path(layout.logs) / "train.log") << "epoch 2";
    std::ofstream(fs::path(layout.checkpoints) / "epoch-2.pt") << "two";
    fs::remove(fs::path(layout.checkpoints) / "epoch-1.pt");
    LocalFolders into{(project.root() / "store/outputs").string(), (project.root() / "store/logs").string(),
                      checkpoints};
    StagingOutcome back = run_staging(staging, loop, [&](auto done) { staging.pull(into, done); });
    BOOST_REQUIRE_MESSAGE(back.ok(), joined(back.problems));
    BOOST_CHECK_EQUAL(read_text(project.root() / "store/outputs/model.pt"), "trained");
    BOOST_CHECK_EQUAL(read_text(project.root() / "store/logs/train.log"), "epoch 2");
    BOOST_CHECK_EQUAL(read_text(project.root() / "ckpt/epoch-2.pt"), "two");
    BOOST_CHECK(!fs::exists(project.root() / "ckpt/epoch-1.pt"));  // mirrored: rank 0's folder as it is
}

BOOST_AUTO_TEST_CASE(a_failed_copy_names_where_and_what_rsync_said) {
    TempProject project;
    project.write("snap/train.py", "print(1)\n");
    project.write("work", "a file where the workdir should be");
    HostsCompute compute = compute_for({"node1"});
    compute.workdir = (project.root() / "work").string();
    EventLoop loop;
    HostStaging staging(loop, compute, StagingMode::local_copy, {"node1"});
    std::string error;
    BOOST_REQUIRE(staging.prepare({"r", "s", 1, (project.root() / "snap").string(), "", "", {}}, &error));
    StagingOutcome outcome = run_staging(staging, loop, [&](auto done) { staging.push("", done); });
    BOOST_REQUIRE_EQUAL(outcome.problems.size(), 1u);
    BOOST_CHECK_MESSAGE(outcome.problems[0].find("the workdir '" + compute.workdir + "': preparing") == 0,
                        outcome.problems[0]);
    BOOST_CHECK_NE(outcome.problems[0].find("Not a directory"), std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// Over ssh, on a fake cluster (scripts/fake-cluster.sh up 2 --private, through
// tests/cluster/on_private_cluster.sh): each host has a workdir of its own and cannot see this
// machine's temporary folder, so whatever it has came over rsync.
namespace {

struct Cluster {
    std::string ssh_config;
    std::vector<std::string> hosts;
    std::string subnet;    // "10.213.1.0/24"
    std::string workdir;   // private on each host
};

std::optional<Cluster> cluster_from_environment() {
    const char* config = std::getenv("AMLFLOW_FAKE_CLUSTER_SSH_CONFIG");
    const char* hosts = std::getenv("AMLFLOW_FAKE_CLUSTER_HOSTS");
    const char* subnet = std::getenv("AMLFLOW_FAKE_CLUSTER_SUBNET");
    const char* workdir = std::getenv("AMLFLOW_FAKE_CLUSTER_WORKDIR");
    if (!config || !hosts || !subnet || !workdir) return std::nullopt;
    Cluster cluster{config, {}, subnet, workdir};
    std::istringstream words(hosts);
    std::string host;
    while (words >> host) cluster.hosts.push_back(host);
    if (cluster.hosts.size() < 2) return std::nullopt;
    return cluster;
}

boost::test_tools::assertion_result cluster_is_up(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result up(cluster_from_environment().has_value());
    if (!up) {
        up.message() << "skipped: no fake cluster (AMLFLOW_FAKE_CLUSTER_SSH_CONFIG, _HOSTS, _SUBNET, _WORKDIR unset; "
                        "tests/cluster/on_private_cluster.sh sets them)";
    }
    return up;
}

// What `script` prints on `host`, over the cluster's ssh.
std::string on_host(EventLoop& loop, const HostsCompute& compute, const std::string& host, const std::string& script) {
    CommandResult result = run_command(loop, target_command(compute, host, script));
    BOOST_REQUIRE_MESSAGE(result.success(), host + ": " + result.last_line());
    return result.out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(host_ops_cluster, *boost::unit_test::precondition(cluster_is_up))

BOOST_AUTO_TEST_CASE(preflight_of_two_good_hosts_is_clean_and_cached) {
    Cluster cluster = *cluster_from_environment();
    TempProject project;
    HostsCompute compute = compute_for(cluster.hosts, cluster.ssh_config);
    PreflightRequest request;
    request.nodes = 2;
    request.processes_per_node = 2;
    request.python = "/usr/bin/python3";
    request.requirements = {"torch>=1.0"};
    request.cache = project.root() / "cache";
    PreflightReport report = run_preflight(compute, request);
    BOOST_REQUIRE_MESSAGE(report.ok(), joined(report.problems));
    BOOST_REQUIRE_EQUAL(report.hosts.size(), 2u);
    std::string prefix = cluster.subnet.substr(0, cluster.subnet.rfind('.') + 1);
    for (size_t i = 0; i < 2; ++i) {
        const HostFacts& facts = report.hosts[i];
        BOOST_CHECK(facts.reachable);
        BOOST_CHECK_EQUAL(facts.hostname, cluster.hosts[i]);  // its own UTS namespace
        BOOST_CHECK_EQUAL(facts.address.rfind(prefix, 0), 0u);
        BOOST_CHECK_EQUAL(facts.ompi_version, report.local_ompi_version);
        BOOST_CHECK_EQUAL(facts.python, "/usr/bin/python3");
        BOOST_CHECK(!facts.packages_from_cache);
    }
    BOOST_REQUIRE(fs::exists(request.cache / "host-packages.json"));

    PreflightReport again = run_preflight(compute, request);
    BOOST_REQUIRE_MESSAGE(again.ok(), joined(again.problems));
    for (const HostFacts& facts : again.hosts) {
        BOOST_CHECK_MESSAGE(facts.packages_from_cache, facts.host + " asked Python again");
        BOOST_CHECK(facts.reachable);
    }
}

BOOST_AUTO_TEST_CASE(preflight_names_an_unreachable_host_and_a_missing_package) {
    Cluster cluster = *cluster_from_environment();
    TempProject project;
    // A host the config names, at an address of the cluster's network that nobody has.
    std::string dead = cluster.subnet.substr(0, cluster.subnet.rfind('.') + 1) + "250";
    fs::path config = project.write("ssh_config", "Host amlflow-dead\n  HostName " + dead + "\nHost *\n  Include " +
                                                      cluster.ssh_config + "\n");
    HostsCompute compute = compute_for({cluster.hosts[0], "amlflow-dead", cluster.hosts[1]}, config.string());
    PreflightRequest request;
    request.nodes = 3;
    request.python = "/usr/bin/python3";
    request.requirements = {"torch", "amlflow-no-such-package==1.0"};
    request.gpus_per_host = 1;
    PreflightReport report = run_preflight(compute, request);
    BOOST_TEST_MESSAGE(joined(report.problems));
    BOOST_CHECK(contains(report.problems, "host 'amlflow-dead' (" + dead + "): cannot be reached: ssh: connect to host " +
                                              dead));
    for (const std::string& host : {cluster.hosts[0], cluster.hosts[1]}) {
        BOOST_CHECK(contains(report.problems, host_label(host, "") + " ("));
        BOOST_CHECK(contains(report.problems, "): no package 'amlflow-no-such-package' for /usr/bin/python3"));
        BOOST_CHECK(contains(report.problems, "): 0 GPUs, but the job asks for 1 per host"));
    }
    BOOST_CHECK(!contains(report.problems, "'torch'"));
    BOOST_CHECK(report.hosts[0].reachable);
    BOOST_CHECK(!report.hosts[1].reachable);
}

BOOST_AUTO_TEST_CASE(staging_sends_each_content_once_and_brings_outputs_back) {
    Cluster cluster = *cluster_from_environment();
    TempProject project;
    // Content of this run only (the random folder name), so none of it is on a host yet.
    project.write("snap/train.py", "print('hello')\n");
    project.write("snap/nonce", project.root().string());
    project.write("helper/amlflow/__init__.py", "# " + project.root().string() + "\n");
    project.write("data/part-0.csv", "1,2,3\n");
    project.write("data/nonce", project.root().string());
    project.write("ckpt/epoch-1.pt", "one");
    fs::path shim = project.write("bin/amlflow-rank", "#!/bin/sh\necho shim\n# " + project.root().string() + "\n");
    fs::permissions(shim, fs::perms::owner_all);
    HostsCompute compute = compute_for(cluster.hosts, cluster.ssh_config);
    compute.shared_fs = false;
    compute.workdir = cluster.workdir;
    StagingRequest request{"run-1", "train", 1, (project.root() / "snap").string(),
                           (project.root() / "helper").string(), shim.string(), {(project.root() / "data").string()}};
    EventLoop loop;
    HostStaging staging(loop, compute, StagingMode::per_host, cluster.hosts);
    std::string error;
    BOOST_REQUIRE_MESSAGE(staging.prepare(request, &error), error);
    const RemoteLayout& layout = staging.layout();
    std::string checkpoints = (project.root() / "ckpt").string();
    StagingOutcome first = run_staging(staging, loop, [&](auto done) { staging.push(checkpoints, done); });
    BOOST_REQUIRE_MESSAGE(first.ok(), joined(first.problems));
    BOOST_CHECK_EQUAL(first.copied.size(), 8u);  // 4 items to each of 2 hosts
    BOOST_CHECK(!fs::exists(layout.snapshot));   // nothing of it here: the hosts' workdirs are their own
    for (const std::string& host : cluster.hosts) {
        std::string seen = on_host(loop, compute, host,
                                   "cat " + layout.snapshot + "/train.py " + layout.inputs.at(request.inputs[0]) +
                                       "/part-0.csv " + layout.checkpoints + "/epoch-1.pt; " + layout.shim +
                                       "; test -d " + layout.outputs + " && test -d " + layout.metrics +
                                       " && test -e " + layout.snapshot + ".done && echo ok");
        BOOST_CHECK_EQUAL(seen, "print('hello')\n1,2,3\noneshim\nok\n");
    }

    StagingOutcome second = run_staging(staging, loop, [&](auto done) { staging.push(checkpoints, done); });
    BOOST_REQUIRE_MESSAGE(second.ok(), joined(second.problems));
    BOOST_CHECK_MESSAGE(second.copied.empty(), joined(second.copied));

    // Rank 0's host writes; its files come back, the other host's stay there.
    on_host(loop, compute, cluster.hosts[0], "echo trained > " + layout.outputs + "/model.pt; echo e2 > " + layout.logs +
                                           "/train.log; echo two > " + layout.checkpoints + "/epoch-2.pt");
    on_host(loop, compute, cluster.hosts[1], "echo other > " + layout.outputs + "/other.pt");
    LocalFolders into{(project.root() / "store/outputs").string(), (project.root() / "store/logs").string(),
                      checkpoints};
    StagingOutcome back = run_staging(staging, loop, [&](auto done) { staging.pull(into, done); });
    BOOST_REQUIRE_MESSAGE(back.ok(), joined(back.problems));
    BOOST_CHECK_EQUAL(read_text(project.root() / "store/outputs/model.pt"), "trained\n");
    BOOST_CHECK_EQUAL(read_text(project.root() / "store/logs/train.log"), "e2\n");
    BOOST_CHECK_EQUAL(read_text(project.root() / "ckpt/epoch-2.pt"), "two\n");
    BOOST_CHECK(!fs::exists(project.root() / "store/outputs/other.pt"));
}

BOOST_AUTO_TEST_CASE(a_copy_to_an_unreachable_host_names_it) {
    Cluster cluster = *cluster_from_environment();
    TempProject project;
    project.write("snap/train.py", "print('" + project.root().string() + "')\n");
    std::string dead = cluster.subnet.substr(0, cluster.subnet.rfind('.') + 1) + "250";
    HostsCompute compute = compute_for({cluster.hosts[0], dead}, cluster.ssh_config);
    compute.shared_fs = false;
    compute.workdir = cluster.workdir;
    EventLoop loop;
    HostStaging staging(loop, compute, StagingMode::per_host, {cluster.hosts[0], dead});
    std::string error;
    BOOST_REQUIRE(staging.prepare({"run-2", "train", 1, (project.root() / "snap").string(), "", "", {}}, &error));
    StagingOutcome outcome = run_staging(staging, loop, [&](auto done) { staging.push("", done); });
    BOOST_REQUIRE_EQUAL(outcome.problems.size(), 1u);
    BOOST_CHECK_MESSAGE(outcome.problems[0].rfind("host '" + dead + "': preparing '" + cluster.workdir + "' failed: ",
                                                  0) == 0, outcome.problems[0]);
    BOOST_CHECK_EQUAL(outcome.copied.size(), 1u);  // the good host got its copy all the same
}

BOOST_AUTO_TEST_SUITE_END()
