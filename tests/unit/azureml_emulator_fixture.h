// The Azure ML emulator and Azurite for the end-to-end tests (scripts/azureml-emulator.sh,
// started once per test executable with a state folder of its own and stopped at its end,
// failed or not), its control API, and a sandbox whose amlflow talks to it. Suites are
// skipped (precondition EmulatorUp) without node_modules.
//
// Live mode (azureml_live_mode.h, AMLFLOW_AZUREML_LIVE=1): the same tests against a real
// workspace. The emulator is not started; tests that need its control endpoint are skipped
// (precondition NeedsControl), and checks inside a test that need it are left out
// (`if (emulator().peek("request counts"))`); every wait is `patience(s)` long.
#pragma once

#include "tests/unit/azureml_live_mode.h"
#include "tests/unit/e2e_harness.h"

#include "runtime/azureml/arm_endpoint.h"
#include "runtime/azureml/http_client.h"
#include "runtime/azureml/workspace_session.h"
#include "runtime/core/event_loop.h"

namespace {

namespace az = amlflow::runtime::azureml;

fs::path emulator_modules() { return source_dir() / "tests/azureml_emulator/node_modules/azurite"; }

// The emulator and Azurite, and the variables `start` printed.
struct Emulator {
    fs::path state;
    std::map<std::string, std::string> vars;
    bool up = false;
    amlflow::testing::LiveMode mode = amlflow::testing::decide_live_mode([](const char* name) { return std::getenv(name); });

    Emulator() {
        if (mode.live) {
            up = mode.problem.empty();
            vars = mode.vars;
            if (!up) std::cerr << mode.problem << "\n";
            return;
        }
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

    bool live() const { return mode.live; }
    // Whether checks that read the emulator's control endpoint can run; in live mode they are
    // left out, with a message naming `what`.
    bool peek(const std::string& what) const {
        if (mode.live) BOOST_TEST_MESSAGE("live mode: " << what << " not checked (no emulator control endpoint)");
        return !mode.live;
    }
    // How long to wait for what takes `seconds` against the emulator: a real cluster may scale
    // up from zero nodes and build an image first.
    double patience(double seconds) const { return mode.live ? std::max(seconds * 15, 1800.0) : seconds; }

    // A call to the control API: the parsed answer (null in live mode: there is none).
    json control(const std::string& method, const std::string& path, const json& body = nullptr) {
        if (mode.live) return nullptr;
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
    int count_requests(const std::string& method, const std::string& path_part, int status = -1) {
        int count = 0;
        json requests = control("GET", "/requests");
        if (requests.is_object()) requests = requests.value("requests", json::array());
        for (const json& r : requests) {
            if (r.value("method", "") == method && r.value("path", "").find(path_part) != std::string::npos &&
                (status < 0 || r.value("status", 0) == status)) {
                ++count;
            }
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
        if (emulator().live()) result.message() << "live mode: " << emulator().mode.problem;
        else result.message() << "no emulator: run scripts/install-node-deps.sh";
        return result;
    }
};

// A test that cannot run without the emulator's control endpoint (faults on demand, request
// counts, job states peeked at): skipped in live mode.
struct NeedsControl {
    const char* why;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(!emulator().live());
        result.message() << "live mode: skipped, it needs the emulator's control endpoint (" << why << ")";
        return result;
    }
};

// The workspace from the variables `start` printed (or live mode's), and the cluster: in live
// mode the real one named by AMLFLOW_AZUREML_LIVE_COMPUTE (used as it is when it exists).
// (Read from the environment here, not from emulator(), which would start the emulator as the
// executable loads.)
std::string workspace_block() {
    auto mode = amlflow::testing::decide_live_mode([](const char* name) { return std::getenv(name); });
    std::string name = mode.live ? "name = \"" + mode.compute + "\", " : "";
    return "workspace ws {\n  subscription = env(\"AZURE_SUBSCRIPTION_ID\")\n  resource_group = env(\"AZURE_RESOURCE_GROUP\")\n"
           "  name = env(\"AZUREML_WORKSPACE\")\n}\ncompute cluster : amlcompute { " + name +
           "vm_size = \"STANDARD_D2_V2\", max_nodes = 2 }\n";
}
const std::string kWorkspace = workspace_block();

// A pipeline of one job `name` on `cluster` that runs src/`script`; `more`: the job's other
// fields, each line ending in "\n".
std::string one_job_on_cluster(const std::string& name, const std::string& script, const std::string& more = "") {
    return kWorkspace + "experiment e {\n  job " + name + " {\n    source = \"src\"\n    script = \"" + script +
           "\"\n    compute = cluster\n" + more + "  }\n}\n";
}

// A sandbox whose amlflow talks to the emulator.
struct AzureBox : Sandbox {
    std::unique_ptr<Amlflow> launch(const std::vector<std::string>& args) {
        auto env = environment();
        for (const auto& [key, value] : emulator().vars) env[key] = value;
        ++launches;
        return std::make_unique<Amlflow>(args, root(), env, log_of("out"), log_of("err"));
    }
    Outcome go(const std::vector<std::string>& args, double seconds = 120) {
        return launch(args)->wait(emulator().patience(seconds));
    }
    // The file the latest launch's stdout ("out") or stderr ("err") goes to.
    fs::path log_of(const std::string& stream) const {
        return root() / ("az-" + std::to_string(launches) + "." + stream);
    }
    // Whether the latest launch wrote `text` there within `seconds`.
    bool wait_for_output(const std::string& text, double seconds, const std::string& stream = "out") const {
        fs::path file = log_of(stream);
        return wait_until([&] { return contains(read_file(file), text); }, seconds);
    }
    int launches = 0;
};

// The latest version of `name` as a client of the emulator's workspace in this process reads
// it, with the variables amlflow gets (one event loop at a time: the session ends here).
az::WorkspaceModelVersion workspace_version(const std::string& name) {
    for (const auto& [key, value] : emulator().vars) setenv(key.c_str(), value.c_str(), 1);
    az::WorkspaceRef ws{emulator().vars["AZURE_SUBSCRIPTION_ID"], emulator().vars["AZURE_RESOURCE_GROUP"],
                        emulator().vars["AZUREML_WORKSPACE"]};
    std::string error;
    auto session = az::WorkspaceSession::open(ws, &error);
    BOOST_REQUIRE_MESSAGE(session, error);
    auto version = session->model_version(name, "", &error);
    BOOST_REQUIRE_MESSAGE(version, error);
    return *version;
}

std::string all_text_under(const fs::path& folder) {
    std::string all;
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (entry.is_regular_file()) all += read_file(entry.path());
    }
    return all;
}

}  // namespace
