// `amlflow plan FILE --format azureml` through the real binary (issue 19 item 5): the birds
// example, unchanged but for `--compute gpu_cluster`, prints its sweep as the sweep job YAML of
// the Azure ML CLI (read back with PyYAML), with paths that hold from where the YAML is
// written; a file with no remote step is a clear error.
#include "tests/unit/e2e_harness.h"

namespace {

json yaml_documents(const std::string& text, const fs::path& folder) {
    fs::path file = folder / "jobs.yml";
    std::ofstream(file) << text;
    std::string command = "/usr/bin/python3 -c 'import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))),"
                          " sys.stdout)' '" + file.string() + "'";
    FILE* out = popen(command.c_str(), "r");
    std::string got;
    char buffer[4096];
    while (out && fgets(buffer, sizeof buffer, out)) got += buffer;
    if (out) pclose(out);
    return json::parse(got, nullptr, false);
}

fs::path birds() { return source_dir() / "examples/birds/birds.amlflow"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(plan_azureml_e2e)

BOOST_AUTO_TEST_CASE(birds_on_gpu_cluster_prints_its_sweep_as_a_cli_sweep_job) {
    if (std::system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") != 0) return;  // no PyYAML: nothing to read it with
    Sandbox box;
    Outcome r = box.run({"plan", birds().string(), "--compute", "gpu_cluster", "--format", "azureml", "--set", "num_trials=6"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    json docs = yaml_documents(r.out, box.root());
    BOOST_REQUIRE_MESSAGE(docs.is_array() && docs.size() == 1, r.out);
    const json& sweep = docs[0];
    BOOST_TEST(sweep["$schema"] == "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json");
    BOOST_TEST(sweep["type"] == "sweep");
    BOOST_TEST(sweep["compute"] == "azureml:gpu_cluster");
    BOOST_TEST(sweep["experiment_name"] == "birds");
    BOOST_TEST(sweep["search_space"]["lr"]["type"] == "loguniform");
    BOOST_TEST(std::abs(sweep["search_space"]["lr"]["min_value"].get<double>() - std::log(1e-3)) < 1e-9);
    BOOST_TEST(sweep["sampling_algorithm"]["type"] == "random");
    BOOST_TEST(sweep["objective"] == (json{{"primary_metric", "val_acc"}, {"goal", "maximize"}}));
    BOOST_TEST(sweep["early_termination"]["type"] == "bandit");
    BOOST_TEST(sweep["early_termination"]["slack_factor"] == 0.15);
    BOOST_TEST(sweep["limits"]["max_total_trials"] == 6);
    BOOST_TEST(sweep["limits"]["max_concurrent_trials"] == 1);
    const json& trial = sweep["trial"];
    BOOST_TEST(trial["distribution"] == (json{{"type", "pytorch"}, {"process_count_per_instance", 2}}));
    BOOST_TEST(trial["command"].get<std::string>().find("python pytorch_train.py --num_epochs 4 --learning_rate "
                                                        "'${{search_space.lr}}'") != std::string::npos, trial.dump());
    BOOST_TEST(trial["environment"]["image"] == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04");
    // Paths hold from the folder the YAML is read from (here: where amlflow ran), relative.
    BOOST_TEST(trial["code"].get<std::string>().rfind("../", 0) == 0u, trial["code"]);
    BOOST_TEST(fs::is_directory(box.root() / trial["code"].get<std::string>()), trial["code"]);
    BOOST_TEST(fs::is_regular_file(box.root() / trial["environment"]["conda_file"].get<std::string>()));
    // The steps that do not run on Azure ML are said to, as comments.
    BOOST_TEST(r.out.find("# step 'bird_classifier' (register) runs on this machine") != std::string::npos, r);
    BOOST_TEST(r.out.find("amlflow registers this environment as azureml:amlflow-pytorch_birds:") != std::string::npos, r);

    // Written with -o into another folder: the paths start there.
    fs::create_directories(box.root() / "jobs" / "deep");
    Outcome written = box.run({"plan", birds().string(), "--compute", "gpu_cluster", "--format", "azureml", "-o", "jobs/deep/tune.yml"});
    BOOST_REQUIRE_MESSAGE(written.code == 0, written);
    json again = yaml_documents(read_file(box.root() / "jobs/deep/tune.yml"), box.root() / "jobs" / "deep");
    BOOST_REQUIRE(again.is_array() && again.size() == 1);
    BOOST_TEST(fs::is_directory(box.root() / "jobs" / "deep" / again[0]["trial"]["code"].get<std::string>()));
    Outcome here = box.run({"plan", birds().string(), "--compute", "gpu_cluster", "--format", "azureml", "-o", "tune.yml"});
    BOOST_REQUIRE_MESSAGE(here.code == 0, here);
    json third = yaml_documents(read_file(box.root() / "tune.yml"), box.root());
    BOOST_REQUIRE(third.is_array() && third.size() == 1);
    BOOST_TEST(third[0]["trial"]["code"] == docs[0]["trial"]["code"]);
}

BOOST_AUTO_TEST_CASE(no_remote_step_is_a_clear_error) {
    Sandbox box;
    Outcome r = box.run({"plan", birds().string(), "--format", "azureml"});
    BOOST_TEST(r.code == 1, r);
    BOOST_TEST(r.out.empty(), r);
    BOOST_TEST(r.err.find("no step of") != std::string::npos, r);
    BOOST_TEST(r.err.find("runs on an amlcompute compute") != std::string::npos, r);
    BOOST_TEST(r.err.find("--compute NAME") != std::string::npos, r);
}

BOOST_AUTO_TEST_SUITE_END()
