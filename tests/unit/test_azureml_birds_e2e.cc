// The flagship example on Azure ML (issue 19, "Show"): examples/birds, unchanged but for
// `--compute gpu_cluster` (and fewer epochs and trials, as parameters), against the emulator
// and Azurite: its learning-rate sweep runs as one sweep job with bandit early termination,
// the best trial's model is registered in the workspace (and here), exported to ONNX (onnx's
// checker) and downloaded. The same file planned for `here`, `lab` and `gpu_cluster` is one
// step graph with one registered model name. Skipped (77) without node_modules.
#include "runtime/store/remote_jobs.h"
#include "tests/unit/azureml_emulator_fixture.h"

namespace {

// examples/birds as a user has it, in the sandbox (without an earlier run's downloads).
void copy_birds(const Sandbox& box) {
    fs::copy(source_dir() / "examples" / "birds", box.root() / "birds", fs::copy_options::recursive);
    fs::remove_all(box.root() / "birds" / "downloads");
}

// The plan's graph with what a compute changes left out: nodes by id and kind, the register
// step's model name, and edges other than those to a compute.
json graph_of(const json& plan) {
    json nodes = json::array(), edges = json::array();
    for (const json& node : plan.value("nodes", json::array())) {
        if (node.value("kind", "") == "compute") continue;
        json kept = {{"id", node.value("id", "")}, {"kind", node.value("kind", "")}};
        if (node.value("kind", "") == "register") kept["model"] = node["spec"].value("name", "");
        nodes.push_back(kept);
    }
    for (const json& edge : plan.value("edges", json::array())) {
        if (edge.value("kind", "") != "compute") edges.push_back(edge);
    }
    return {{"nodes", nodes}, {"edges", edges}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_birds_e2e, *boost::unit_test::precondition(EmulatorUp()))

BOOST_AUTO_TEST_CASE(one_file_one_step_graph_on_every_compute) {
    AzureBox box;
    copy_birds(box);
    json graphs = json::object();
    for (const char* compute : {"here", "lab", "gpu_cluster"}) {
        Outcome plan = box.go({"plan", "birds/birds.amlflow", "--format", "json", "--compute", compute}, 60);
        BOOST_REQUIRE_MESSAGE(plan.code == 0, plan);
        json parsed = json::parse(plan.out, nullptr, false);
        BOOST_REQUIRE_MESSAGE(parsed.is_object(), plan);
        graphs[compute] = graph_of(parsed);
    }
    BOOST_TEST(graphs["here"].dump() == graphs["lab"].dump());
    BOOST_TEST(graphs["here"].dump() == graphs["gpu_cluster"].dump());
    BOOST_TEST(contains(graphs["gpu_cluster"].dump(), "\"model\":\"pytorch-birds\""), graphs.dump());
}

BOOST_AUTO_TEST_CASE(birds_runs_its_sweep_registers_exports_and_downloads_on_azure_ml) {
    AzureBox box;
    copy_birds(box);
    Outcome r = box.go({"run", "birds/birds.amlflow", "--compute", "gpu_cluster", "--set", "epochs=2", "--set",
                        "num_trials=2"},
                       600);
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto steps = store->steps_of(run);
    BOOST_REQUIRE(steps);
    std::map<std::string, StepRecord> by_name;
    for (const StepRecord& step : *steps) by_name[step.name] = step;
    for (const char* step : {"tune", "bird_classifier", "bird_classifier_onnx", "best_model"}) {
        BOOST_TEST((by_name[step].state == StepState::Succeeded), step);
    }

    // The sweep was one sweep job on the service, with the file's bandit policy.
    std::vector<RemoteJob> jobs = read_remote_jobs(store->run_folder(run));
    BOOST_REQUIRE(!jobs.empty());
    BOOST_TEST(jobs.front().step == "tune");
    if (emulator().peek("the sweep job's body")) {
        BOOST_TEST(emulator().count_requests("PUT", "/jobs/" + jobs.front().job) == 1);
        BOOST_TEST(emulator().job_status(jobs.front().job) == "Completed");
    }
    Outcome yaml = box.go({"plan", "birds/birds.amlflow", "--compute", "gpu_cluster", "--format", "azureml"}, 60);
    BOOST_TEST(contains(yaml.out, "bandit"), yaml);

    // The best trial's model: registered in the workspace at its trial job's output, and here.
    json tune = json::parse(by_name["tune"].result_json, nullptr, false);
    BOOST_REQUIRE_MESSAGE(tune.is_object(), by_name["tune"].result_json);
    az::WorkspaceModelVersion version = workspace_version("pytorch-birds");
    BOOST_TEST(version.version == "1");
    BOOST_TEST(contains(version.uri, "/outputs/artifacts/paths/outputs/model.pt"), version.uri);
    BOOST_TEST(version.tags["framework"] == "pytorch");
    auto model = store->find_model("pytorch-birds");
    BOOST_REQUIRE(model);
    BOOST_TEST(contains(model->source_step, "tune["));
    Outcome listed = box.go({"models", "list", "--workspace", "--file", "birds/birds.amlflow"}, 60);
    BOOST_TEST(contains(listed.out, "pytorch-birds"), listed);

    // Exported (onnx's checker passed) and downloaded beside the file.
    json exported = json::parse(by_name["bird_classifier_onnx"].result_json, nullptr, false);
    BOOST_REQUIRE(exported.is_object());
    BOOST_TEST(exported["export"]["checker"] == "passed");
    BOOST_TEST(fs::file_size(exported["results"]["file"].get<std::string>()) > 1000u);
    BOOST_TEST(fs::exists(box.root() / "birds" / "downloads" / "birds" / "model.pt"));
}

BOOST_AUTO_TEST_SUITE_END()
