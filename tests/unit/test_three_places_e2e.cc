// One file, three places (issue 19 item 5, "Show"): the same pipeline runs on this machine,
// on the fake cluster (`hosts`, through Open MPI) and on the Azure ML emulator by
// `--compute NAME` alone, and each run has the same step graph and registers the same model
// (name and content). Runs inside test_hosts_e2e (tests/cluster/on_private_cluster.sh makes
// the cluster); the emulator is started as the Azure ML tests start it, and the case is
// skipped without its node_modules.
#include <boost/test/unit_test.hpp>

#include "runtime/store/remote_jobs.h"
#include "tests/unit/azureml_emulator_fixture.h"
#include "tests/unit/hosts_cluster.h"

namespace {

// Two ranks write the same model: its content does not depend on where it was trained.
const char* kTrain = R"PY(import os, socket
rank = int(os.environ["RANK"])
print("rank", rank, "of", os.environ["WORLD_SIZE"], "on", socket.gethostname(), flush=True)
if rank == 0:
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.pt", "w") as f:
        f.write("weights 0.25 0.5 0.75\n")
)PY";

// The steps and edges of the plan a run recorded, without what the compute changes.
json recorded_graph(RunStore& store, const std::string& run) {
    json plan = json::parse(store.find_run(run)->plan_json, nullptr, false);
    json nodes = json::array(), edges = json::array();
    for (const json& node : plan.value("nodes", json::array())) {
        if (node.value("kind", "") != "compute") nodes.push_back({{"id", node.value("id", "")}, {"kind", node.value("kind", "")}});
    }
    for (const json& edge : plan.value("edges", json::array())) {
        if (edge.value("kind", "") != "compute") edges.push_back(edge);
    }
    return {{"nodes", nodes}, {"edges", edges}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(three_places_e2e, *boost::unit_test::precondition(ClusterPresent()))

BOOST_AUTO_TEST_CASE(one_file_runs_here_on_the_hosts_and_on_azure_ml_with_one_graph_and_one_model,
                     *boost::unit_test::precondition(EmulatorUp())) {
    const Cluster& cluster = Cluster::get();
    AzureBox box;
    box.write("src/train.py", kTrain);
    box.write("p.amlflow", std::string(kWorkspace) + "environment py { python = \"/usr/bin/python3\" }\n" +
                               "compute here : local { cpus = 2 }\n" + cluster.compute("farm") + R"(
experiment e {
  job train {
    source = "src", script = "train.py", environment = py, compute = here
    distribution = pytorch { processes_per_node = 2 }
  }
  register model m {
    name = "tiny-net"
    path = train.outputs / "model.pt"
  }
}
)");
    std::vector<std::string> runs;
    for (const char* compute : {"here", "farm", "cluster"}) {
        BOOST_TEST_CONTEXT("--compute " << compute) {
            Outcome r = box.go({"run", "p.amlflow", "--compute", compute}, 300);
            BOOST_REQUIRE_MESSAGE(r.code == 0, r);
            BOOST_TEST(contains(r.out + r.err, "rank 1 of 2"), r);
            auto store = box.store();
            auto all = store->list_runs(0);
            BOOST_REQUIRE(all);
            runs.push_back(all->front().id);  // newest first
            Outcome shown = box.go({"runs", "show", runs.back()}, 60);
            BOOST_TEST(contains(shown.out, std::string("compute: ") + compute), shown);
        }
    }
    // The hosts run ran on the hosts; the Azure ML run as a job there.
    auto store = box.store();
    auto ranks = store->ranks_of(runs[1], "train", 0);
    BOOST_REQUIRE(ranks && ranks->size() == 2u);
    BOOST_TEST(ranks->at(0).host == cluster.hosts[0]);
    BOOST_TEST(!read_remote_jobs(store->run_folder(runs[2])).empty());

    // One step graph; one model, registered once with the same content from all three.
    json first = recorded_graph(*store, runs[0]);
    BOOST_TEST(first["nodes"].size() >= 2u);
    for (const std::string& run : runs) BOOST_TEST(recorded_graph(*store, run).dump() == first.dump());
    auto models = store->list_models();
    BOOST_REQUIRE(models);
    BOOST_TEST(models->size() == 1u);
    BOOST_TEST(models->front().name == "tiny-net");
    BOOST_TEST(models->front().version == 1);
    for (const std::string& run : runs) {
        auto steps = store->steps_of(run);
        BOOST_REQUIRE(steps);
        for (const StepRecord& step : *steps) {
            if (step.name == "m") BOOST_TEST(contains(step.result_json, "tiny-net"), step.result_json);
        }
    }
    // Registered from the Azure ML job, the model is in the workspace too.
    BOOST_TEST(workspace_version("tiny-net").version == "1");
}

BOOST_AUTO_TEST_SUITE_END()
