// Sweeps on amlcompute through the real amlflow binary against the Azure ML emulator and
// Azurite (issue 19 items 1 and 2): a grid sweep with bandit early termination runs as one
// sweep job whose body passes the emulator's strict schema check, its trials' logs and the
// metrics they send through MLflow's REST API (amlflow's Python helper) reach the run store,
// the service's policy stops the weak trials, and the best trial it names gives
// `tune.best.outputs` to the register step. Skipped (77) without node_modules.
#include "tests/unit/azureml_emulator_fixture.h"

BOOST_AUTO_TEST_SUITE(azureml_sweep_e2e, *boost::unit_test::precondition(EmulatorUp()))

BOOST_AUTO_TEST_CASE(a_bandit_sweep_runs_as_a_sweep_job_and_its_best_trial_is_registered, *boost::unit_test::precondition(NeedsControl{"request counts, the trials' states on the service"})) {
    AzureBox box;
    // amlflow's helper travels as the sweep job's input (not in src); each trial has its own
    // checkpoints folder, empty when it starts.
    box.write("src/train.py",
              "import os, sys, time\nimport amlflow\nx = float(sys.argv[2])\n"
              "ck = os.environ['AMLFLOW_CHECKPOINTS']\nprint('checkpoints', os.path.isdir(ck), os.listdir(ck), flush=True)\n"
              "open(os.path.join(ck, 'x'), 'w').write(str(x))\n"
              "for step in range(5):\n    amlflow.log('acc', x * (step + 1), step=step)\n"
              "    time.sleep(0.3 if x >= 1 else 0.9)\n"
              "os.makedirs('outputs', exist_ok=True)\nopen('outputs/model.pt', 'w').write('model x=%s' % x)\n"
              "print('trained', x)\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job train(x: float = 1.0) {\n    source = \"src\"\n    script = \"train.py\"\n"
                               "    args = [\"--x\", x]\n    compute = cluster\n    metrics = [\"acc\"]\n  }\n"
                               "  sweep tune over train {\n    space { x = choice(0.1, 1.0, 2.0) }\n    sampling = grid\n"
                               "    objective = maximize(\"acc\")\n    parallel = 3\n"
                               "    early_stop = bandit { slack = 0.2, delay = 1 }\n  }\n"
                               "  register model birds { path = tune.best.outputs / \"model.pt\" }\n}\n");
    Outcome check = box.go({"check", "p.amlflow"});
    BOOST_TEST(check.code == 0, check);
    BOOST_TEST(check.err.find("warning") == std::string::npos, check);
    emulator().control("DELETE", "/requests");
    Outcome r = box.go({"run", "p.amlflow"}, 240);
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    // One sweep job, accepted at once by the strict schema check; the trials are its children.
    BOOST_TEST(emulator().count_requests("PUT", "/jobs/") == 1);
    auto store = box.store();
    std::string run = box.only_run();
    auto record = store->find_run(run);
    BOOST_REQUIRE(record);
    std::string sweep_job = az::job_name(run, "tune", 0);
    BOOST_TEST(emulator().job_status(sweep_job) == "Completed");
    BOOST_TEST(emulator().job_status(sweep_job + "_2") == "Completed");
    BOOST_TEST(emulator().job_status(sweep_job + "_0") == "Canceled");
    // The service's policy stopped x = 0.1; x = 2 is the best it named, its outputs came back.
    auto steps = store->steps_of(run);
    BOOST_REQUIRE(steps);
    std::map<std::string, std::string> states;
    for (const auto& step : *steps) states[step.name] = to_string(step.state);
    BOOST_TEST(states["tune[0]"] == "stopped early");
    BOOST_TEST(states["tune[2]"] == "succeeded");
    BOOST_TEST(states["birds"] == "succeeded");
    BOOST_TEST(read_file(store->step_outputs(run, "tune[2]") / "model.pt") == "model x=2.0");
    BOOST_TEST(r.err.find("best trial tune[2] with acc = 10") != std::string::npos, r);
    // The trial's own log, relayed from the service, and its metrics, read from MLflow.
    std::string trial_log = read_file(store->rank_log(run, "tune[2]", 0, 0));
    BOOST_TEST(trial_log.find("trained 2.0") != std::string::npos, trial_log);
    BOOST_TEST(trial_log.find("checkpoints True []") != std::string::npos, trial_log);
    auto metrics = store->metrics_of(run, "tune[2]", "acc");
    BOOST_REQUIRE(metrics);
    BOOST_REQUIRE_EQUAL(metrics->size(), 5u);
    BOOST_TEST(metrics->back().value == 10.0);
    BOOST_TEST(metrics->back().step_index == 4);
    Outcome models = box.go({"models", "list"});
    BOOST_TEST(models.out.find("birds") != std::string::npos, models);
    // The best trial's model is a version in the workspace too, its URI at that trial's job.
    Outcome show = box.go({"models", "show", "birds"});
    BOOST_TEST(show.out.find("workspace: model 'birds' version 1 in workspace") != std::string::npos, show);
    BOOST_TEST(show.out.find("(azureml://jobs/" + sweep_job + "_2/outputs/artifacts/paths/outputs/model.pt)") !=
                   std::string::npos, show);
}

BOOST_AUTO_TEST_SUITE_END()
