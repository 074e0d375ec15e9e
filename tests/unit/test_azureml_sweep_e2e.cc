// Sweeps on amlcompute through the real amlflow binary against the Azure ML emulator and
// Azurite (issue 19 items 1 and 2): a grid sweep with bandit early termination runs as one
// sweep job whose body passes the emulator's strict schema check, its trials' logs and the
// metrics they send through MLflow's REST API (amlflow's Python helper) reach the run store,
// the service's policy stops the weak trials, and the best trial it names gives
// `tune.best.outputs` to the register step. Skipped (77) without node_modules.
#include "tests/unit/e2e_harness.h"

#include "runtime/azureml/arm_endpoint.h"
#include "runtime/azureml/http_client.h"
#include "runtime/core/event_loop.h"

namespace {

namespace az = amlflow::runtime::azureml;

fs::path emulator_modules() { return source_dir() / "tests/azureml_emulator/node_modules/azurite"; }

// The emulator and Azurite, and the variables `start` printed.
struct Emulator {
    fs::path state;
    std::map<std::string, std::string> vars;
    bool up = false;

    Emulator() {
        if (!fs::exists(emulator_modules())) return;
        state = fs::temp_directory_path() / ("amlflow-e2e-emulator-" + std::to_string(getpid()));
        fs::create_directories(state);
        std::string command = "AMLFLOW_EMULATOR_STATE='" + state.string() + "' bash '" +
                              (source_dir() / "scripts/azureml-emulator.sh").string() + "' start 2>&1";
        FILE* out = popen(command.c_str(), "r");
        char line[4096];
        std::string all;
        while (out && fgets(line, sizeof line, out)) {
            std::string text = line;
            all += text;
            // export NAME='value'
            if (text.rfind("export ", 0) != 0) continue;
            size_t eq = text.find('=');
            std::string value = text.substr(eq + 1);
            while (!value.empty() && (value.back() == '\n' || value.back() == '\'')) value.pop_back();
            if (!value.empty() && value.front() == '\'') value.erase(0, 1);
            vars[text.substr(7, eq - 7)] = value;
        }
        up = out && pclose(out) == 0 && vars.count("AMLFLOW_ARM_ENDPOINT");
        if (!up) std::cerr << "the emulator did not start:\n" << all << "\n";
    }
    ~Emulator() {
        if (state.empty()) return;
        std::string command = "AMLFLOW_EMULATOR_STATE='" + state.string() + "' bash '" +
                              (source_dir() / "scripts/azureml-emulator.sh").string() + "' stop >/dev/null 2>&1";
        if (std::system(command.c_str()) != 0) std::cerr << "the emulator did not stop cleanly\n";
        std::error_code ignored;
        fs::remove_all(state, ignored);
    }

    // A call to the control API: the parsed answer.
    json control(const std::string& method, const std::string& path, const json& body = nullptr) {
        EventLoop loop;
        az::HttpClient http(loop);
        az::HttpRequest request;
        request.method = method;
        request.url = vars["AMLFLOW_EMULATOR_CONTROL"] + path;
        if (!body.is_null()) {
            request.body = body.dump();
            request.headers = {{"Content-Type", "application/json"}};
        }
        std::optional<az::HttpResponse> got;
        http.send(request, [&](az::HttpResponse r) { got = std::move(r); });
        loop.run_until([&] { return got.has_value(); });
        return json::parse(got->body, nullptr, false);
    }
    std::string job_status(const std::string& name) {
        json jobs = control("GET", "/jobs");
        if (jobs.is_object()) jobs = jobs.value("jobs", json::array());
        for (const json& job : jobs) {
            if (job.value("name", "") == name) return job.value("status", "");
        }
        return "";
    }
    int count_requests(const std::string& method, const std::string& path_part) {
        int count = 0;
        json requests = control("GET", "/requests");
        if (requests.is_object()) requests = requests.value("requests", json::array());
        for (const json& r : requests) {
            if (r.value("method", "") == method && r.value("path", "").find(path_part) != std::string::npos) ++count;
        }
        return count;
    }
};

Emulator& emulator() {
    static Emulator instance;
    return instance;
}

struct EmulatorUp {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(emulator().up);
        result.message() << "no emulator: run scripts/install-node-deps.sh";
        return result;
    }
};

const char* kWorkspace =
    "workspace ws {\n  subscription = env(\"AZURE_SUBSCRIPTION_ID\")\n  resource_group = env(\"AZURE_RESOURCE_GROUP\")\n"
    "  name = env(\"AZUREML_WORKSPACE\")\n}\ncompute cluster : amlcompute { vm_size = \"STANDARD_D2_V2\", max_nodes = 2 }\n";

// A sandbox whose amlflow talks to the emulator.
struct AzureBox : Sandbox {
    std::unique_ptr<Amlflow> launch(const std::vector<std::string>& args) {
        auto env = environment();
        for (const auto& [key, value] : emulator().vars) env[key] = value;
        ++launches;
        return std::make_unique<Amlflow>(args, root(), env, root() / ("az-" + std::to_string(launches) + ".out"),
                                         root() / ("az-" + std::to_string(launches) + ".err"));
    }
    Outcome go(const std::vector<std::string>& args, double seconds = 120) { return launch(args)->wait(seconds); }
    int launches = 0;
};

std::string all_text_under(const fs::path& folder) {
    std::string all;
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (entry.is_regular_file()) all += read_file(entry.path());
    }
    return all;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_sweep_e2e, *boost::unit_test::precondition(EmulatorUp()))

BOOST_AUTO_TEST_CASE(a_bandit_sweep_runs_as_a_sweep_job_and_its_best_trial_is_registered) {
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
}

BOOST_AUTO_TEST_SUITE_END()
