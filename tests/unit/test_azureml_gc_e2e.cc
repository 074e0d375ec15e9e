// Clean-up and cost on Azure ML (issue 19 item 7), through the real amlflow binary against the
// emulator (its own, started once for this executable): a cluster amlflow creates scales to
// zero (min_nodes, idle_time) and carries amlflow's tag, as do its environment and code
// versions; `gc --workspace` lists, then removes, only what amlflow made and nothing a running
// job uses, never a model; its errors. Skipped (77) without node_modules.
#include "runtime/store/remote_jobs.h"
#include "tests/unit/azureml_emulator_fixture.h"

namespace {

// The resource manager as a client other than amlflow sees it (the Azure ML CLI, a person in
// the portal): a token from the emulator's login endpoint, then one call.
struct Arm {
    std::string token;

    json call(const std::string& method, const std::string& under_workspace, const json& body = nullptr,
              int* status = nullptr) {
        auto& vars = emulator().vars;
        if (token.empty()) {
            az::HttpRequest login;
            login.method = "POST";
            login.url = vars["AZURE_AUTHORITY_HOST"] + "/" + vars["AZURE_TENANT_ID"] + "/oauth2/v2.0/token";
            login.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
            login.body = "grant_type=client_credentials&client_id=" + vars["AZURE_CLIENT_ID"] +
                         "&client_secret=" + vars["AZURE_CLIENT_SECRET"] +
                         "&scope=" + az::percent_encode(vars["AMLFLOW_ARM_ENDPOINT"] + "/.default");
            token = json::parse(send(login).body).value("access_token", "");
        }
        az::HttpRequest request;
        request.method = method;
        request.url = vars["AMLFLOW_ARM_ENDPOINT"] + "/subscriptions/" + vars["AZURE_SUBSCRIPTION_ID"] + "/resourceGroups/" +
                      vars["AZURE_RESOURCE_GROUP"] + "/providers/Microsoft.MachineLearningServices/workspaces/" +
                      vars["AZUREML_WORKSPACE"] + under_workspace + "?api-version=2022-10-01";
        request.headers = {{"Authorization", "Bearer " + token}};
        if (!body.is_null()) {
            request.headers.emplace_back("Content-Type", "application/json");
            request.body = body.dump();
        }
        az::HttpResponse response = send(request);
        if (status) *status = response.status;
        return json::parse(response.body, nullptr, false);
    }
    int status_of(const std::string& under_workspace) {
        int status = 0;
        call("GET", under_workspace, nullptr, &status);
        return status;
    }

    static az::HttpResponse send(az::HttpRequest request) {
        EventLoop loop;
        az::HttpClient http(loop);
        std::optional<az::HttpResponse> got;
        http.send(std::move(request), [&](az::HttpResponse r) { got = std::move(r); });
        loop.run_until([&] { return got.has_value(); });
        return *got;
    }
};

const char* kGcWorkspace =
    "workspace ws {\n  subscription = env(\"AZURE_SUBSCRIPTION_ID\")\n  resource_group = env(\"AZURE_RESOURCE_GROUP\")\n"
    "  name = env(\"AZUREML_WORKSPACE\")\n}\n"
    "environment quick { image = \"python:3.11\", pip = [\"numpy\"] }\n"
    "environment slow { image = \"python:3.11\", pip = [\"scipy\"] }\n"
    // `brief` scales to zero a second after its job; `warm` keeps its node for ten minutes;
    // `busy` runs the long job while gc looks.
    "compute brief : amlcompute { vm_size = \"STANDARD_D2_V2\", max_nodes = 2, min_nodes = 0, idle_time = 1s }\n"
    "compute warm  : amlcompute { vm_size = \"STANDARD_D2_V2\", max_nodes = 1, idle_time = 10m }\n"
    "compute busy  : amlcompute { vm_size = \"STANDARD_D2_V2\", max_nodes = 1, idle_time = 1s }\n";

std::string job(const std::string& name, const std::string& src, const std::string& compute, const std::string& env) {
    return "  job " + name + " {\n    source = \"" + src + "\"\n    script = \"run.py\"\n    compute = " + compute +
           "\n    environment = " + env + "\n  }\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_gc_e2e, *boost::unit_test::precondition(EmulatorUp()))

// Item 7: the cluster's PUT as the emulator received it (it keeps the body's scale settings
// and tags), the versions' tags, and the nodes going to zero after the idle time.
BOOST_AUTO_TEST_CASE(a_cluster_amlflow_creates_scales_to_zero_and_is_tagged) {
    AzureBox box;
    box.write("a/run.py", "print('brief job', flush=True)\n");
    box.write("p.amlflow", std::string(kGcWorkspace) + "experiment e {\n" + job("one", "a", "brief", "quick") + "}\n");
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    Arm arm;
    json compute = arm.call("GET", "/computes/brief");
    BOOST_TEST(compute["tags"].value("createdBy", "") == "amlflow", compute.dump());
    const json& scale = compute["properties"]["properties"]["scaleSettings"];
    BOOST_TEST(scale.value("minNodeCount", -1) == 0, scale.dump());
    BOOST_TEST(scale.value("maxNodeCount", -1) == 2, scale.dump());
    BOOST_TEST(scale.value("nodeIdleTimeBeforeScaleDown", "") == "PT1S", scale.dump());
    BOOST_TEST(wait_until([&] {
        return arm.call("GET", "/computes/brief")["properties"]["properties"].value("currentNodeCount", -1) == 0;
    }, 30), "the cluster did not scale to zero after its idle time");
    json environments = arm.call("GET", "/environments/amlflow-quick/versions");
    BOOST_REQUIRE_EQUAL(environments["value"].size(), 1u);
    BOOST_TEST(environments["value"][0]["properties"]["tags"].value("createdBy", "") == "amlflow");
    std::string code_id = arm.call("GET", "/jobs/" + box.store()->find_run(box.only_run())->remote_job)["properties"].value("codeId", "");
    std::string under = code_id.substr(code_id.find("/codes/"));
    BOOST_TEST(arm.call("GET", under)["properties"]["tags"].value("createdBy", "") == "amlflow", under);
}

BOOST_AUTO_TEST_CASE(gc_workspace_lists_then_removes_only_what_amlflow_made_and_nothing_in_use) {
    AzureBox box;
    Arm arm;
    // What others made: an environment named like amlflow's, a code version named by a hash
    // (as the Azure ML CLI names its snapshots), a cluster, and (below, once a job made its
    // file) a model. None carries the tag.
    std::string foreign_hash(64, 'a');
    int status = 0;
    arm.call("PUT", "/environments/amlflow-theirs/versions/1", {{"properties", {{"image", "python:3.11"}}}}, &status);
    BOOST_REQUIRE_EQUAL(status, 201);
    std::string blob = emulator().vars["AMLFLOW_EMULATOR_BLOB"];
    arm.call("PUT", "/codes/" + foreign_hash + "/versions/1",
             {{"properties", {{"codeUri", blob + "/somewhere/LocalUpload/x/src"}, {"isAnonymous", true}}}}, &status);
    BOOST_REQUIRE_EQUAL(status, 201);
    arm.call("PUT", "/computes/theirs",
             {{"location", "eastus"},
              {"properties", {{"computeType", "AmlCompute"},
                              {"properties", {{"vmSize", "STANDARD_D2_V2"}, {"scaleSettings", {{"maxNodeCount", 1}}}}}}}}, &status);
    BOOST_REQUIRE_EQUAL(status, 201);

    // amlflow's: one job done on `brief` and one on `warm`, then a long one on `busy`.
    box.write("a/run.py", "import os\nprint('short', flush=True)\nos.makedirs('outputs', exist_ok=True)\n"
                          "open('outputs/model.pt', 'w').write('weights')\n");
    box.write("b/run.py", "print('warm', flush=True)\n");
    box.write("c/run.py", "import time\nprint('started', flush=True)\ntime.sleep(120)\n");
    box.write("done.amlflow", std::string(kGcWorkspace) + "experiment e {\n" + job("one", "a", "brief", "quick") +
                                  job("two", "b", "warm", "quick") + "}\n");
    box.write("long.amlflow", std::string(kGcWorkspace) + "experiment e {\n" + job("long", "c", "busy", "slow") + "}\n");
    Outcome done = box.go({"run", "done.amlflow"});
    BOOST_REQUIRE_MESSAGE(done.code == 0, done);
    // Their model, registered from job `one`'s output (the service wants its files there).
    std::string one_job;
    {
        auto store = box.store();
        for (const RemoteJob& job : read_remote_jobs(store->run_folder(box.only_run()))) {
            if (job.step == "one") one_job = job.job;
        }
    }
    BOOST_REQUIRE(!one_job.empty());
    arm.call("PUT", "/models/theirs/versions/1",
             {{"properties", {{"modelUri", "azureml://jobs/" + one_job + "/outputs/artifacts/paths/outputs/model.pt"},
                              {"modelType", "custom_model"}}}}, &status);
    BOOST_REQUIRE_EQUAL(status, 201);
    auto running = box.launch({"run", "long.amlflow"});
    BOOST_REQUIRE_MESSAGE(box.wait_for_output("started", 60), "the long job never started");
    BOOST_REQUIRE(wait_until([&] {
        return arm.call("GET", "/computes/brief")["properties"]["properties"].value("currentNodeCount", -1) == 0;
    }, 30));

    Outcome dry = box.go({"gc", "--workspace", "done.amlflow", "--dry-run"});
    BOOST_REQUIRE_MESSAGE(dry.code == 0, dry);
    BOOST_TEST(dry.out.find("would remove compute 'brief'") != std::string::npos, dry);
    BOOST_TEST(dry.out.find("would keep compute 'warm': 1 node up") != std::string::npos, dry);
    BOOST_TEST(dry.out.find("would keep compute 'busy': job 'amlflow-") != std::string::npos, dry);
    BOOST_TEST(dry.out.find("would remove environment 'amlflow-quick' version") != std::string::npos, dry);
    BOOST_TEST(dry.out.find("would keep environment 'amlflow-slow' version") != std::string::npos, dry);
    BOOST_TEST(dry.out.find("theirs") == std::string::npos, dry);
    BOOST_TEST(dry.out.find(foreign_hash) == std::string::npos, dry);
    BOOST_TEST(dry.out.find("left alone: 2 versions amlflow did not create") != std::string::npos, dry);
    // A dry run removes nothing.
    BOOST_TEST(arm.status_of("/computes/brief") == 200);
    BOOST_TEST(arm.status_of("/environments/amlflow-quick") == 200);

    Outcome gc = box.go({"gc", "--workspace", "done.amlflow"});
    BOOST_REQUIRE_MESSAGE(gc.code == 0, gc);
    BOOST_TEST(gc.out.find("removed compute 'brief'") != std::string::npos, gc);
    BOOST_TEST(gc.out.find("kept compute 'busy'") != std::string::npos, gc);
    BOOST_TEST(gc.out.find("removed environment 'amlflow-quick' (no version left)") != std::string::npos, gc);
    BOOST_TEST(arm.status_of("/computes/brief") == 404);
    BOOST_TEST(arm.status_of("/environments/amlflow-quick") == 404);
    for (const char* kept : {"/computes/warm", "/computes/busy", "/computes/theirs", "/environments/amlflow-slow",
                             "/environments/amlflow-theirs/versions/1", "/models/theirs/versions/1"}) {
        BOOST_TEST(arm.status_of(kept) == 200, kept);
    }
    BOOST_TEST(arm.status_of("/codes/" + foreign_hash + "/versions/1") == 200);
    // The job still runs: its code, environment and cluster were left to it.
    BOOST_TEST(emulator().job_status(box.store()->list_runs(1)->front().remote_job) == "Running");

    running->signal(SIGINT);
    Outcome stopped = running->wait(60);
    BOOST_TEST(stopped.code == 130, stopped);
    BOOST_REQUIRE(wait_until([&] {
        return arm.call("GET", "/computes/busy")["properties"]["properties"].value("currentNodeCount", -1) == 0;
    }, 30));
    // Once it ended, the rest goes (but `warm`, whose node is still up), and what others made stays.
    Outcome after = box.go({"gc", "--workspace", "long.amlflow"});
    BOOST_REQUIRE_MESSAGE(after.code == 0, after);
    BOOST_TEST(after.out.find("removed compute 'busy'") != std::string::npos, after);
    BOOST_TEST(after.out.find("kept compute 'warm'") != std::string::npos, after);
    BOOST_TEST(arm.status_of("/environments/amlflow-slow") == 404);
    BOOST_TEST(arm.status_of("/environments/amlflow-theirs/versions/1") == 200);
    BOOST_TEST(arm.status_of("/models/theirs/versions/1") == 200);
    json codes = arm.call("GET", "/codes");
    BOOST_REQUIRE(codes.is_object());
    BOOST_REQUIRE_EQUAL(codes["value"].size(), 1u);
    BOOST_TEST(codes["value"][0].value("name", "") == foreign_hash);
}

BOOST_AUTO_TEST_SUITE_END()

// Where the workspace comes from, and what is wrong with the command line: no emulator needed.
BOOST_AUTO_TEST_SUITE(azureml_gc_errors)

BOOST_AUTO_TEST_CASE(gc_workspace_says_clearly_what_is_missing) {
    Sandbox box;
    Outcome none = box.run({"gc", "--workspace", "--dry-run"});
    BOOST_TEST(none.code == 1, none);
    BOOST_TEST(none.err.find("which workspace?") != std::string::npos, none);
    box.write("config.json", "{\"subscription_id\": \"s\", \"workspace_name\": \"w\"}");
    Outcome partial = box.run({"gc", "--workspace", "--dry-run"});
    BOOST_TEST(partial.code == 1, partial);
    BOOST_TEST(partial.err.find("has no 'resource_group'") != std::string::npos, partial);
    box.write("config.json", "not json");
    Outcome broken = box.run({"gc", "--workspace", "config.json"});
    BOOST_TEST(broken.err.find("is not a json object") != std::string::npos, broken);
    box.write("p.amlflow", "experiment e {\n}\n");
    Outcome no_ws = box.run({"gc", "--workspace", "p.amlflow"});
    BOOST_TEST(no_ws.code == 1, no_ws);
    BOOST_TEST(no_ws.err.find("declares no workspace") != std::string::npos, no_ws);
    Outcome both = box.run({"gc", "--workspace", "--keep", "2"});
    BOOST_TEST(both.code == 64, both);
    BOOST_TEST(both.err.find("--keep and --older-than are for this machine's runs") != std::string::npos, both);
}

BOOST_AUTO_TEST_SUITE_END()
