// `hosts` jobs end to end (issue 17, "Show"), through the real binary on a fake cluster of
// two hosts (scripts/fake-cluster.sh: network namespaces with their own sshd, hostname and,
// with --private, their own workdir). tests/cluster/on_private_cluster.sh makes the cluster, exports
// AMLFLOW_FAKE_CLUSTER_* and runs this executable; without those variables every case is
// skipped. Checked: the ranks of `mpi`, `pytorch` and `per_node` jobs on the right hosts
// with the right identity; a rank killed on the second host restarting the whole group
// from its checkpoint; Ctrl-C and kill -9 of amlflow leaving nothing in any namespace;
// the rest (shared_fs = false, a host cut off, problems found before any rank starts) is in
// test_hosts_faults_e2e.cc, the same executable.
#include <boost/test/unit_test.hpp>

#include "tests/unit/hosts_cluster.h"

BOOST_AUTO_TEST_SUITE(hosts_e2e, *boost::unit_test::precondition(ClusterPresent()))

// 2 hosts x 2 MPI ranks: mpi4py's all-reduce across both hosts; RANK is the MPI rank, and
// ranks 0-1 run on the first host, 2-3 on the second.
BOOST_AUTO_TEST_CASE(mpi_job_runs_two_ranks_on_each_host) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    box.write("src/m.py", R"PY(import json, os, socket
from mpi4py import MPI
comm = MPI.COMM_WORLD
info = {"host": socket.gethostname(), "mpi_rank": comm.Get_rank(), "mpi_size": comm.Get_size(),
        "sum": comm.allreduce(comm.Get_rank() + 1), "RANK": os.environ["RANK"],
        "LOCAL_RANK": os.environ["LOCAL_RANK"], "NODE_RANK": os.environ["NODE_RANK"]}
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "mpi-%d.json" % comm.Get_rank()), "w") as f:
    json.dump(info, f)
print("mpi rank", comm.Get_rank(), "on", info["host"], flush=True)
)PY");
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\n" + cluster.compute("farm") + R"(
experiment e {
  job m {
    source = "src", script = "m.py", environment = py, compute = farm
    distribution = mpi { nodes = 2, processes_per_node = 2 }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 180);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto step = step_record(*store, run, "m");
    BOOST_REQUIRE(step);
    for (int rank = 0; rank < 4; ++rank) {
        BOOST_TEST_CONTEXT("rank " << rank) {
            json info = read_json(step->outputs / ("mpi-" + std::to_string(rank) + ".json"));
            BOOST_REQUIRE(info.is_object());
            BOOST_TEST(info["mpi_rank"] == rank);
            BOOST_TEST(info["RANK"] == std::to_string(rank));
            BOOST_TEST(info["mpi_size"] == 4);
            BOOST_TEST(info["sum"] == 10);
            BOOST_TEST(info["host"] == cluster.hosts[rank / 2]);
            BOOST_TEST(info["LOCAL_RANK"] == std::to_string(rank % 2));
            BOOST_TEST(info["NODE_RANK"] == std::to_string(rank / 2));
            std::string label = "[m " + std::to_string(rank) + "@" + cluster.hosts[rank / 2] + "] ";
            BOOST_TEST(contains(r.out, label + "mpi rank " + std::to_string(rank) + " on " + cluster.hosts[rank / 2]), r);
            BOOST_TEST(contains(read_file(store->rank_log(run, "m", 0, rank)), "mpi rank " + std::to_string(rank)));
        }
    }
    // The store says where each rank ran (its pid is that host's), and `runs show` too.
    auto ranks = store->ranks_of(run, "m", 0);
    BOOST_REQUIRE(ranks && ranks->size() == 4u);
    for (const RankRecord& rank : *ranks) BOOST_TEST(rank.host == cluster.hosts[static_cast<size_t>(rank.global_rank / 2)]);
    Outcome shown = box.run({"runs", "show", run}, 30);
    BOOST_TEST(contains(shown.out, "rank 3 on " + cluster.hosts[1] + " pid "), shown);
}

// 2 hosts x 2 pytorch ranks: a gloo all-reduce across the hosts; every torchrun variable of
// every rank, and each rank on its host.
BOOST_AUTO_TEST_CASE(pytorch_job_gives_every_rank_torchruns_variables_on_its_host) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    box.write("src/t.py", R"PY(import json, os, socket
import torch, torch.distributed as dist
dist.init_process_group("gloo")
t = torch.tensor([float(os.environ["RANK"]) + 1])
dist.all_reduce(t)
info = {k: v for k, v in os.environ.items() if k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
        "GROUP_RANK", "NODE_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME", "AMLFLOW_STEP", "AMLFLOW_RUN_ID") or k.startswith("TORCHELASTIC_")}
info.update(host=socket.gethostname(), sum=t.item(), world=dist.get_world_size(), dist_rank=dist.get_rank())
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "env-%s.json" % os.environ["RANK"]), "w") as f:
    json.dump(info, f)
dist.destroy_process_group()
)PY");
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\n" + cluster.compute("farm") + R"(
experiment e {
  job t {
    source = "src", script = "t.py", environment = py, compute = farm
    distribution = pytorch { nodes = 2, processes_per_node = 2 }
    restarts = 2
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 180);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto step = step_record(*store, run, "t");
    BOOST_REQUIRE(step);
    std::vector<AttemptRecord> tries = attempts(*store, run, "t");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    std::string port = std::to_string(tries[0].master_port);
    BOOST_TEST(contains(r.err, "MASTER_PORT " + port), r);
    for (int rank = 0; rank < 4; ++rank) {
        BOOST_TEST_CONTEXT("rank " << rank) {
            json info = read_json(step->outputs / ("env-" + std::to_string(rank) + ".json"));
            BOOST_REQUIRE(info.is_object());
            std::string node = std::to_string(rank / 2);
            BOOST_TEST(info["host"] == cluster.hosts[rank / 2]);
            BOOST_TEST(info["sum"] == 10.0);
            BOOST_TEST(info["world"] == 4);
            BOOST_TEST(info["dist_rank"] == rank);
            BOOST_TEST(info["RANK"] == std::to_string(rank));
            BOOST_TEST(info["LOCAL_RANK"] == std::to_string(rank % 2));
            BOOST_TEST(info["WORLD_SIZE"] == "4");
            BOOST_TEST(info["LOCAL_WORLD_SIZE"] == "2");
            BOOST_TEST(info["GROUP_RANK"] == node);
            BOOST_TEST(info["NODE_RANK"] == node);
            BOOST_TEST(info["ROLE_RANK"] == std::to_string(rank));
            BOOST_TEST(info["ROLE_WORLD_SIZE"] == "4");
            BOOST_TEST(info["MASTER_ADDR"] == cluster.addresses[0]);
            BOOST_TEST(info["MASTER_PORT"] == port);
            BOOST_TEST(info["GLOO_SOCKET_IFNAME"] == "eth0");  // the hosts' NIC on the subnet
            BOOST_TEST(info["NCCL_SOCKET_IFNAME"] == "eth0");
            BOOST_TEST(info["TORCHELASTIC_RESTART_COUNT"] == "0");
            BOOST_TEST(info["TORCHELASTIC_MAX_RESTARTS"] == "2");
            BOOST_TEST(info["TORCHELASTIC_RUN_ID"] == run);
            BOOST_TEST(info["AMLFLOW_RUN_ID"] == run);
            BOOST_TEST(info["AMLFLOW_STEP"] == "t");
        }
    }
    auto ranks = store->ranks_of(run, "t", 0);
    BOOST_REQUIRE(ranks);
    BOOST_REQUIRE_EQUAL(ranks->size(), 4u);
    for (const RankRecord& record : *ranks) {
        BOOST_TEST(record.node_rank == record.global_rank / 2);
        BOOST_TEST(record.local_rank == record.global_rank % 2);
        BOOST_TEST(record.exit_code == 0);
    }
}

// A per-node command runs once on each host with NODE_RANK, NODES and the master's address.
// "step 'n' started" comes once the hosts' check has passed, not before it: when the line
// first shows, the check's record of the hosts' packages (<store>/hosts/host-packages.json,
// written as the check ends) is there. (A host whose check fails never prints it:
// test_hosts_faults_e2e.cc.)
BOOST_AUTO_TEST_CASE(per_node_command_runs_once_on_each_host) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    box.write("src/keep", "");
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\", pip = [\"torch\"] }\n" +
                               cluster.compute("farm") + R"(
experiment e {
  job n {
    source = "src", environment = py, compute = farm
    command = "echo \"$(hostname) $NODE_RANK $NODES $MASTER_ADDR $WORLD_SIZE\" > \"$AMLFLOW_OUTPUTS/node-$NODE_RANK.txt\"; echo node $NODE_RANK done"
    distribution = per_node { nodes = 2, processes_per_node = 2 }
  }
}
)");
    fs::path record = box.home() / "hosts" / "host-packages.json";
    auto amlflow = box.start({"run", "p.amlflow"});
    bool shown = false, checked_before = false;
    wait_until([&] {
        std::string said = read_file(box.root() / "amlflow-1.err");
        shown = contains(said, "step 'n' started");
        if (shown) checked_before = fs::exists(record);
        return shown || contains(said, "\nrun ");  // or the run's summary: it ended without
    }, 180);
    Outcome r = amlflow->wait(180);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    BOOST_TEST(shown, r);
    BOOST_TEST(checked_before, "the started line came before the hosts' check had ended\n" << r);
    size_t started = r.err.find("step 'n' started: 2 processes");
    BOOST_TEST(started != std::string::npos, r);
    BOOST_TEST(r.err.find("step 'n' started", started + 1) == std::string::npos, "one started line\n" << r);
    auto store = box.store();
    std::string run = box.only_run();
    auto step = step_record(*store, run, "n");
    BOOST_REQUIRE(step);
    int files = 0;
    for (const auto& entry : fs::directory_iterator(step->outputs)) files += entry.path().filename().string().rfind("node-", 0) == 0;
    BOOST_TEST(files == 2);
    for (int node = 0; node < 2; ++node) {
        std::string expected = cluster.hosts[node] + " " + std::to_string(node) + " 2 " + cluster.addresses[0] + " 4\n";
        BOOST_TEST(read_file(step->outputs / ("node-" + std::to_string(node) + ".txt")) == expected);
        BOOST_TEST(contains(r.out, "@" + cluster.hosts[node] + "] node " + std::to_string(node) + " done"), r);
    }
    auto ranks = store->ranks_of(run, "n", 0);
    BOOST_REQUIRE(ranks);
    BOOST_TEST(ranks->size() == 2u);
}

// A rank killed on the second host: the whole group stops on both hosts and starts again,
// and the restarted ranks go on from rank 0's checkpoint.
BOOST_AUTO_TEST_CASE(rank_killed_on_second_host_restarts_the_group_from_its_checkpoint) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    box.write("src/c.py", R"PY(import os, signal, socket, time
import torch.distributed as dist
dist.init_process_group("gloo")
rank = int(os.environ["RANK"])
mark = os.path.join(os.environ["AMLFLOW_CHECKPOINTS"], "step")
start = int(open(mark).read()) if os.path.exists(mark) else 0
print("start", rank, socket.gethostname(), "from", start, "restart", os.environ["TORCHELASTIC_RESTART_COUNT"],
      "pid", os.getpid(), flush=True)
dist.barrier()  # every rank has read the checkpoint before rank 0 writes the next
for step in range(start, 6):
    if rank == 0:
        with open(mark + ".tmp", "w") as f: f.write(str(step + 1))
        os.replace(mark + ".tmp", mark)
    dist.barrier()
    if step == 2 and rank == 3 and os.environ["TORCHELASTIC_RESTART_COUNT"] == "0":
        os.kill(os.getpid(), signal.SIGKILL)
print("done", rank, flush=True)
)PY");
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\n" + cluster.compute("farm") + R"(
experiment e {
  job c {
    source = "src", script = "c.py", environment = py, compute = farm
    distribution = pytorch { nodes = 2, processes_per_node = 2 }
    restarts = 1
    backoff  = 100ms
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 240);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    BOOST_TEST(contains(r.err, "rank 3 on host '" + cluster.hosts[1] + "' was killed by signal 9"), r);
    auto store = box.store();
    std::string run = box.only_run();
    std::vector<AttemptRecord> tries = attempts(*store, run, "c");
    BOOST_REQUIRE_EQUAL(tries.size(), 2u);
    BOOST_TEST(tries[0].state == AttemptState::Failed);
    BOOST_TEST(tries[1].state == AttemptState::Succeeded);
    BOOST_TEST(tries[0].master_port != tries[1].master_port);
    json failure = failure_of(tries[0]);
    BOOST_TEST(failure.value("rank", -1) == 3, failure.dump());
    for (int rank = 0; rank < 4; ++rank) {
        BOOST_TEST_CONTEXT("rank " << rank) {
            std::string host = cluster.hosts[rank / 2];
            std::string first = read_file(store->rank_log(run, "c", 0, rank));
            std::string second = read_file(store->rank_log(run, "c", 1, rank));
            BOOST_TEST(contains(first, "start " + std::to_string(rank) + " " + host + " from 0 restart 0"), first);
            // Every rank of the group was restarted on its host, from the checkpoint (step 3
            // or later: rank 0 wrote it before the barrier rank 3 died after).
            std::string restarted = "start " + std::to_string(rank) + " " + host + " from ";
            size_t at = second.find(restarted);
            BOOST_REQUIRE_MESSAGE(at != std::string::npos, second);
            int from = std::atoi(second.c_str() + at + restarted.size());
            BOOST_TEST(from >= 3, second);
            BOOST_TEST(contains(second, "restart 1"), second);
            BOOST_TEST(contains(second, "done " + std::to_string(rank)), second);
            BOOST_TEST(contains(r.out, "[c " + std::to_string(rank) + "@" + host + "] done"), r);
        }
    }
}

// examples/multi_host as its README runs it, with the cluster's names given by --set.
BOOST_AUTO_TEST_CASE(multi_host_example_trains_across_the_hosts) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    fs::path example = source_dir() / "examples" / "multi_host";
    BOOST_REQUIRE_MESSAGE(fs::exists(example / "multi_host.amlflow"), example << " not found");
    for (const auto& entry : fs::directory_iterator(example)) {
        if (entry.is_regular_file()) fs::copy_file(entry.path(), box.root() / entry.path().filename());
    }
    std::string hosts = "[" + literal(cluster.hosts[0] + ":2") + ", " + literal(cluster.hosts[1] + ":2") + "]";
    Outcome r = box.run({"run", "multi_host.amlflow", "--set", "hosts=" + hosts, "--set", "ssh_config=" + cluster.ssh_config,
                         "--set", "network=" + cluster.subnet, "--set", "epochs=4"},
                        300);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    BOOST_TEST(contains(r.out, "[train 0@" + cluster.hosts[0] + "] OK: loss fell"), r);
    for (int rank = 0; rank < 4; ++rank) {
        std::string host = cluster.hosts[rank / 2];
        BOOST_TEST(contains(r.out, "[train " + std::to_string(rank) + "@" + host + "] [rank " + std::to_string(rank) +
                                       "/4] on " + host + ": node " + std::to_string(rank / 2)),
                   r);
    }
    auto store = box.store();
    auto train = step_record(*store, box.only_run(), "train");
    BOOST_REQUIRE(train);
    BOOST_TEST(fs::exists(train->outputs / "model.pt"));
    BOOST_TEST(fs::exists(train->outputs.parent_path() / "checkpoints" / "last.pt"));
}

// Ctrl-C: amlflow stops the group on both hosts and exits 130; nothing of the run is left.
// A sweep's trials share the compute's slots: 2 slots a host, trials of 2 ranks, 2 at once:
// each pair of trials runs side by side, one on each host, and each trial's ranks are on
// one host only.
BOOST_AUTO_TEST_CASE(sweep_trials_run_side_by_side_on_the_hosts) {
    const Cluster& cluster = Cluster::get();
    Sandbox box;
    box.write("src/s.py", R"PY(import json, os, socket, sys, time
x = float(sys.argv[2])
print("trial x", x, flush=True)
start = time.time()
time.sleep(1.5)
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], "trial-%s.json" % os.environ["RANK"]), "w") as f:
    json.dump({"host": socket.gethostname(), "start": start, "end": time.time()}, f)
import amlflow
amlflow.log("score", -(x - 0.3) ** 2)
)PY");
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\n" + cluster.compute("farm") + R"(
experiment e {
  job trial(x: float = 0.5) {
    source = "src", script = "s.py", args = ["--x", x], environment = py, compute = farm
    distribution = pytorch { nodes = 1, processes_per_node = 2 }
    metrics = ["score"]
  }
  sweep tune over trial {
    space { x = uniform(0, 1) }
    objective = maximize("score")
    trials = 4
    parallel = 2
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 240);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    std::vector<std::string> hosts;
    std::vector<std::pair<double, double>> spans;
    for (int trial = 0; trial < 4; ++trial) {
        auto step = step_record(*store, run, "tune[" + std::to_string(trial) + "]");
        BOOST_REQUIRE(step);
        json rank0 = read_json(step->outputs / "trial-0.json"), rank1 = read_json(step->outputs / "trial-1.json");
        BOOST_REQUIRE(rank0.is_object() && rank1.is_object());
        BOOST_TEST(rank0["host"] == rank1["host"], "a trial's ranks share its host");
        hosts.push_back(rank0["host"].get<std::string>());
        spans.emplace_back(rank0["start"].get<double>(), rank0["end"].get<double>());
    }
    // Trials 0 and 1 start together, so they hold different hosts; so do 2 and 3.
    BOOST_TEST(hosts[0] != hosts[1]);
    BOOST_TEST(hosts[2] != hosts[3]);
    bool overlapped = spans[0].first < spans[1].second && spans[1].first < spans[0].second;
    BOOST_TEST(overlapped, "trials 0 and 1 ran at the same time");
    BOOST_TEST(contains(r.out + r.err, "@" + cluster.hosts[1] + "]"));
}

BOOST_AUTO_TEST_CASE(ctrl_c_leaves_nothing_on_any_host) { stop_and_check_nothing_left(SIGINT, 130); }

// kill -9 of amlflow: mpirun goes with it, and its daemons take the shims and ranks along.
BOOST_AUTO_TEST_CASE(kill_9_of_amlflow_leaves_nothing_on_any_host) { stop_and_check_nothing_left(SIGKILL, -1); }


BOOST_AUTO_TEST_SUITE_END()
