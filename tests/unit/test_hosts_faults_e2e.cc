// `hosts` jobs end to end, the files and faults (issue 17, "Show"; the cluster as in
// test_hosts_e2e.cc): shared_fs = false on hosts that share no folder with this machine,
// a host cut off mid-run, and the problems found before any rank starts.
#include <boost/test/unit_test.hpp>

#include "tests/unit/hosts_cluster.h"

BOOST_AUTO_TEST_SUITE(hosts_faults_e2e, *boost::unit_test::precondition(ClusterPresent()))

// shared_fs = false on hosts that cannot see the run store: the snapshot, amlflow's helper,
// an input folder given as a path argument and another step's outputs go out to each host
// by content hash; rank 0's outputs and checkpoints and every rank's metrics come back, so a
// later step on this machine reads the job's outputs; and after a rank fails, the
// checkpoint that came back goes out again to both hosts before the restart.
BOOST_AUTO_TEST_CASE(shared_fs_false_copies_inputs_out_and_outputs_back) {
    const Cluster& cluster = Cluster::get();
    BOOST_REQUIRE_MESSAGE(!cluster.workdir.empty() && !cluster.hidden.empty(),
                          "the cluster must be --private with a hidden folder for this case");
    // The sandbox in the folder the hosts cannot see.
    std::string saved = env_or_empty("TMPDIR");
    setenv("TMPDIR", cluster.hidden.c_str(), 1);
    Sandbox box;
    if (saved.empty()) unsetenv("TMPDIR");
    else setenv("TMPDIR", saved.c_str(), 1);
    box.write("data/d.txt", "hello data\n");
    box.write("src/prep.py", R"PY(import os
open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "prep.txt"), "w").write("from prep\n")
)PY");
    box.write("src/train.py", R"PY(import json, os, socket, sys
import amlflow
import torch.distributed as dist
data, prep, store = sys.argv[1], sys.argv[2], sys.argv[3]
rank, restart = int(os.environ["RANK"]), os.environ["TORCHELASTIC_RESTART_COUNT"]
dist.init_process_group("gloo")
mark = os.path.join(os.environ["AMLFLOW_CHECKPOINTS"], "saved")
print("rank", rank, "on", socket.gethostname(), "restart", restart, "checkpoint",
      open(mark).read() if os.path.exists(mark) else "none", flush=True)
dist.barrier()  # every rank has read the checkpoint before rank 0 writes the next
info = {"host": socket.gethostname(), "cwd": os.getcwd(), "data": data, "prep": prep,
        "data_text": open(os.path.join(data, "d.txt")).read(), "prep_text": open(os.path.join(prep, "prep.txt")).read(),
        "input": os.environ.get("AMLFLOW_INPUT_PREP", ""), "outputs": os.environ["AMLFLOW_OUTPUTS"],
        "checkpoints": os.environ["AMLFLOW_CHECKPOINTS"], "store_seen": os.path.exists(store),
        "helper": os.path.dirname(amlflow.__file__), "snapshot": open("train.py").read().splitlines()[0]}
with open(os.path.join("outputs", "rank-%d.json" % rank), "w") as f:
    json.dump(info, f)
amlflow.log("rank_value", rank * 10)
if rank == 0:
    with open(mark, "w") as f: f.write("by rank 0 in restart " + restart)
dist.barrier()
if rank == 3 and restart == "0":
    sys.exit(3)
)PY");
    box.write("src/after.py", R"PY(import json, os, sys
names = sorted(n for n in os.listdir(sys.argv[1]) if n.startswith("rank-"))
print("after sees", " ".join(names))
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "seen.json"), "w") as f:
    json.dump({n: json.load(open(os.path.join(sys.argv[1], n))) for n in names}, f)
)PY");
    std::string extra = "  shared_fs = false\n  workdir = " + literal(cluster.workdir) + "\n";
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\ncompute here : local {}\n" +
                               cluster.compute("farm", extra) + R"(
experiment e {
  job prep { source = "src", script = "prep.py", environment = py, compute = here }
  job train {
    source = "src", script = "train.py", environment = py, compute = farm
    args = ["." / "data", prep.outputs, )" + literal(box.home()) + R"(]
    inputs = { prep = prep.outputs }
    distribution = pytorch { nodes = 2, processes_per_node = 2 }
    restarts = 1
    backoff = 100ms
  }
  job after { source = "src", script = "after.py", environment = py, compute = here, args = [train.outputs] }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 300);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto train = step_record(*store, run, "train");
    auto after = step_record(*store, run, "after");
    BOOST_REQUIRE(train);
    BOOST_REQUIRE(after);
    BOOST_REQUIRE_EQUAL(attempts(*store, run, "train").size(), 2u);
    // Rank 0's host's outputs came back (ranks 0 and 1 share it), and the later step read them.
    json seen = read_json(after->outputs / "seen.json");
    BOOST_REQUIRE_MESSAGE(seen.is_object(), r);
    BOOST_TEST(seen.contains("rank-0.json"));
    BOOST_TEST(seen.contains("rank-1.json"));
    BOOST_TEST(fs::exists(train->outputs / "rank-0.json"));
    std::string workdir = cluster.workdir + "/";
    for (const auto& [name, info] : seen.items()) {
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(info["host"] == cluster.hosts[0]);
            BOOST_TEST(info["data_text"] == "hello data\n");
            BOOST_TEST(info["prep_text"] == "from prep\n");
            BOOST_TEST(info["store_seen"] == false);  // the hosts really do not see this machine's disk
            BOOST_TEST(info["snapshot"] == "import json, os, socket, sys");
            // Every path the rank was given is under the workdir on its host: inputs in the
            // content-addressed cache, the attempt's folders under <run>/<step>/.
            for (const char* key : {"cwd", "data", "prep", "input", "outputs", "checkpoints", "helper"}) {
                BOOST_TEST(info[key].get<std::string>().rfind(workdir, 0) == 0, key << " = " << info[key]);
            }
            for (const char* key : {"data", "prep", "helper"}) {
                BOOST_TEST(contains(info[key].get<std::string>(), workdir + "cache/"), key << " = " << info[key]);
            }
            BOOST_TEST(info["input"] == info["prep"]);
            BOOST_TEST(contains(info["outputs"].get<std::string>(), "/" + run + "/train/attempt-2/"), info["outputs"]);
            BOOST_TEST(info["checkpoints"] == workdir + run + "/train/checkpoints");
        }
    }
    // The checkpoint came back after each attempt, and went out to both hosts before the
    // second: every restarted rank found attempt 1's.
    BOOST_TEST(read_file((train->outputs.parent_path() / "checkpoints" / "saved")) == "by rank 0 in restart 1");
    for (int rank = 0; rank < 4; ++rank) {
        std::string log = read_file(store->rank_log(run, "train", 1, rank));
        BOOST_TEST(contains(log, "rank " + std::to_string(rank) + " on " + cluster.hosts[rank / 2] +
                                     " restart 1 checkpoint by rank 0 in restart 0"), log);
    }
    // Every rank's metrics, relayed by its shim.
    auto metrics = store->metrics_of(run, "train", "rank_value");
    BOOST_REQUIRE(metrics);
    std::set<int> ranks;
    for (const MetricRecord& metric : *metrics) ranks.insert(metric.rank);
    BOOST_TEST(ranks.size() == 4u);
}

// The second host's link goes down mid-run: the failure names that host within 30 s (the
// shims' heartbeat; Open MPI alone takes minutes), and the ranks on the host cut off end
// by their shims' own watch while the link is still down.
BOOST_AUTO_TEST_CASE(host_cut_off_mid_run_is_named) {
    const Cluster& cluster = Cluster::get();
    std::string veth = veth_of(cluster.namespaces[1]);
    BOOST_REQUIRE_MESSAGE(!veth.empty(), "cannot find the veth of " << cluster.namespaces[1]);
    Sandbox box;
    fs::path marks = box.path("marks");
    write_sleeper(box, marks);
    auto process = box.start({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return all_up(marks, 4); }, 120), "the ranks did not all start");
    std::vector<long> pids = rank_pids(marks, 4);
    struct LinkBack {
        std::string veth;
        ~LinkBack() { shell("ip link set " + veth + " up"); }
    } link_back{veth};
    BOOST_REQUIRE_EQUAL(shell("ip link set " + veth + " down"), 0);
    auto cut = Clock::now();
    Outcome r = process->wait(30);
    BOOST_TEST_MESSAGE("amlflow ended " << seconds_since(cut) << " s after the link went down");
    BOOST_TEST(r.finished, "no end within 30 s of the link going down");
    BOOST_TEST(r.code == 2, r);
    std::string report = failure_report(r.err, "s");
    BOOST_TEST(contains(report, "host '" + cluster.hosts[1] + "'"), r);
    BOOST_TEST(!contains(report, "host '" + cluster.hosts[0] + "'"), r);
    // The first host's ranks went with the group.
    BOOST_TEST(wait_until([&] { return !process_alive(pids[0]) && !process_alive(pids[1]); }, 5));
    // On the host cut off, the shims notice the silence themselves (30 s without heartbeat).
    bool gone = wait_until([&] { return !process_alive(pids[2]) && !process_alive(pids[3]); }, 45);
    BOOST_TEST(gone, "the ranks on the cut-off host still run " << seconds_since(cut) << " s after the cut");
    BOOST_TEST_MESSAGE("the cut-off host's ranks ended " << seconds_since(cut) << " s after the cut");
    shell("ip link set " + veth + " up");
    bool clean = wait_until([] { return leftovers_anywhere().empty(); }, 20);
    BOOST_TEST(clean, "left on the hosts after the link came back:" << joined(leftovers_anywhere()));
}

// Problems found before any rank starts, one per host: a host that cannot be reached, and a
// package the environment needs that the hosts lack. No rank log exists, no rank printed.
BOOST_AUTO_TEST_CASE(unreachable_host_and_missing_package_fail_before_any_rank) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    // A host at an unused address of the cluster's subnet (.250), first in a copy of the config.
    std::string subnet = cluster.subnet.substr(0, cluster.subnet.rfind('.'));
    std::string dead = cluster.hosts[0].substr(0, cluster.hosts[0].rfind('-')) + "-dead";
    fs::path config = box.write("ssh_config", "Host " + dead + "\n  HostName " + subnet + ".250\n  ConnectTimeout 3\n" +
                                                  read_file(cluster.ssh_config));
    box.write("src/m.py", "print('rank ran')\n");
    std::string computes = cluster.compute("farm");
    computes += "compute gone : hosts {\n  hosts = [" + literal(cluster.hosts[0] + ":2") + ", " + literal(dead + ":2") +
                "]\n  ssh_config = " + literal(config) + "\n  interface = " + literal(cluster.subnet) + "\n}\n";
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\n"
                           "environment needs { python = \"/usr/bin/python3\", pip = [\"surely-not-installed-xyz\"] }\n" +
                               computes + R"(
experiment e {
  job u {
    source = "src", script = "m.py", environment = py, compute = gone
    distribution = mpi { nodes = 2, processes_per_node = 2 }
  }
  job p {
    source = "src", script = "m.py", environment = needs, compute = farm
    distribution = pytorch { nodes = 2, processes_per_node = 2 }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 120);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 2, r);
    std::string unreachable = failure_report(r.err, "u");
    BOOST_TEST(contains(unreachable, "host '" + dead + "'"), r);
    BOOST_TEST(contains(unreachable, "cannot be reached"), r);
    BOOST_TEST(!contains(unreachable, "host '" + cluster.hosts[0] + "'"), r);
    std::string missing = failure_report(r.err, "p");
    for (const std::string& host : {cluster.hosts[0], cluster.hosts[1]}) {
        BOOST_TEST(contains(missing, "host '" + host + "'"), r);
    }
    BOOST_TEST(contains(missing, "surely-not-installed-xyz"), r);
    BOOST_TEST(!contains(r.out, "rank ran"), r);
    // Neither job says it started: that line comes only once the hosts' check has passed.
    for (const char* step : {"u", "p"}) {
        BOOST_TEST(contains(r.err, "step '" + std::string(step) + "' attempt 1 failed: the hosts cannot run this job"), r);
        BOOST_TEST(!contains(r.err, "step '" + std::string(step) + "' started"), r);
    }
    auto store = box.store();
    std::string run = box.only_run();
    for (const char* step : {"u", "p"}) {
        BOOST_TEST_CONTEXT("job " << step) {
            std::vector<AttemptRecord> tries = attempts(*store, run, step);
            BOOST_REQUIRE_EQUAL(tries.size(), 1u);
            for (int rank = 0; rank < 4; ++rank) BOOST_TEST(!fs::exists(store->rank_log(run, step, 0, rank)));
            auto ranks = store->ranks_of(run, step, 0);
            BOOST_TEST((!ranks || ranks->empty()));
        }
    }
    BOOST_TEST(leftovers_anywhere().empty(), joined(leftovers_anywhere()));
}

BOOST_AUTO_TEST_SUITE_END()
