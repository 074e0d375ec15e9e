// amlcompute jobs through the real amlflow binary against the Azure ML emulator and the real
// Azurite (scripts/azureml-emulator.sh, started once for this executable with a state folder
// of its own and stopped at the end, failed or not). Skipped (77) without node_modules.
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

BOOST_AUTO_TEST_SUITE(azureml_e2e, *boost::unit_test::precondition(EmulatorUp()))

BOOST_AUTO_TEST_CASE(single_node_job_from_upload_to_outputs_then_register) {
    AzureBox box;
    box.write("src/train.py",
              "import os, sys\nprint('args', sys.argv[1:], flush=True)\nos.makedirs('outputs', exist_ok=True)\n"
              "open('outputs/model.pt', 'w').write('weights ' + os.environ['AMLFLOW_STEP'])\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job train {\n    source = \"src\"\n    script = \"train.py\"\n"
                               "    args = [\"--name\", \"a b\", 3]\n    compute = cluster\n  }\n"
                               "  register model m { path = train.outputs / \"model.pt\" }\n}\n");
    emulator().control("DELETE", "/requests");
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    BOOST_TEST(r.out.find("args ['--name', 'a b', '3']") != std::string::npos, r);
    BOOST_TEST(r.err.find("cannot run yet") == std::string::npos, r);
    auto store = box.store();
    std::string run = box.only_run();
    BOOST_TEST(read_file(store->step_outputs(run, "train") / "model.pt") == "weights train");
    auto record = store->find_run(run);
    BOOST_REQUIRE(record);
    BOOST_TEST(record->remote_job.rfind("amlflow-", 0) == 0u);
    BOOST_TEST(emulator().job_status(record->remote_job) == "Completed");
    BOOST_TEST(emulator().count_requests("POST", "startPendingUpload") == 1);
    Outcome models = box.go({"models", "list"});
    BOOST_TEST(models.out.find("m") != std::string::npos, models);

    // The same source again: found by its hash, nothing uploaded.
    Outcome again = box.go({"run", "p.amlflow", "--force"});
    BOOST_REQUIRE_MESSAGE(again.code == 0, again);
    BOOST_TEST(emulator().count_requests("POST", "startPendingUpload") == 1);
    BOOST_TEST(emulator().count_requests("PUT", "/jobs/") == 2);

    // Neither the client secret nor a token reached the store or the output.
    std::string secret = emulator().vars["AZURE_CLIENT_SECRET"];
    BOOST_REQUIRE(!secret.empty());
    std::string everything = all_text_under(box.home()) + r.out + r.err + again.out + again.err;
    BOOST_TEST(everything.find(secret) == std::string::npos);
    BOOST_TEST(everything.find("emu.") == std::string::npos, "a bearer token of the emulator was written");
    BOOST_TEST(everything.find("sig=") == std::string::npos, "a SAS signature was written");
}

BOOST_AUTO_TEST_CASE(two_nodes_two_processes_every_rank_logs_its_variables) {
    AzureBox box;
    box.write("src/ddp.py",
              "import os\nprint('rank', os.environ['RANK'], 'local', os.environ['LOCAL_RANK'], 'node',"
              " os.environ['NODE_RANK'], 'world', os.environ['WORLD_SIZE'], 'restart',"
              " os.environ['TORCHELASTIC_RESTART_COUNT'], 'v', os.environ['GREETING'], flush=True)\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job ddp {\n    source = \"src\"\n    script = \"ddp.py\"\n"
                               "    compute = cluster\n    distribution = pytorch { nodes = 2, processes_per_node = 2 }\n"
                               "    variables = { GREETING = \"hello there\" }\n  }\n}\n");
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    for (int rank = 0; rank < 4; ++rank) {
        std::string log = read_file(store->rank_log(run, "ddp", 0, rank));
        std::string expected = "rank " + std::to_string(rank) + " local " + std::to_string(rank % 2) + " node " +
                               std::to_string(rank / 2) + " world 4 restart 0 v hello there";
        BOOST_TEST(log.find(expected) != std::string::npos, "rank " << rank << " log: " << log);
        BOOST_TEST(r.out.find("[ddp " + std::to_string(rank) + "] " + expected) != std::string::npos, r);
    }
}

BOOST_AUTO_TEST_CASE(ctrl_c_cancels_the_job_on_the_service) {
    AzureBox box;
    box.write("src/long.py", "import time\nprint('started', flush=True)\nfor i in range(600):\n    time.sleep(0.1)\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job long {\n    source = \"src\"\n    script = \"long.py\"\n"
                               "    compute = cluster\n  }\n}\n");
    auto process = box.launch({"run", "p.amlflow"});
    fs::path out = box.root() / ("az-" + std::to_string(box.launches) + ".out");
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return read_file(out).find("started") != std::string::npos; }, 60),
                          "the job's first line never arrived");
    process->signal(SIGINT);
    Outcome r = process->wait(60);
    BOOST_TEST(r.code == 130, r);
    auto record = box.store()->find_run(box.only_run());
    BOOST_REQUIRE(record);
    BOOST_TEST(emulator().job_status(record->remote_job) == "Canceled");
}

BOOST_AUTO_TEST_CASE(a_job_failing_once_is_resubmitted_as_a_new_job) {
    AzureBox box;
    box.write("src/ok.py", "import os\nprint('restart', os.environ['TORCHELASTIC_RESTART_COUNT'], flush=True)\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job flaky {\n    source = \"src\"\n    script = \"ok.py\"\n"
                               "    compute = cluster\n    restarts = 1\n    backoff = 100ms\n  }\n}\n");
    emulator().control("POST", "/faults", {{"failJobs", 1}, {"exitCode", 1}});
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto tries = attempts(*store, run, "flaky");
    BOOST_REQUIRE_EQUAL(tries.size(), 2u);
    BOOST_TEST(tries[0].state == AttemptState::Failed);
    BOOST_TEST(tries[1].state == AttemptState::Succeeded);
    BOOST_TEST(read_file(store->rank_log(run, "flaky", 1, 0)).find("restart 1") != std::string::npos);
    std::string first = az::job_name(run, "flaky", 0), second = az::job_name(run, "flaky", 1);
    BOOST_TEST(emulator().job_status(first) == "Failed");
    BOOST_TEST(emulator().job_status(second) == "Completed");
}

BOOST_AUTO_TEST_SUITE_END()
