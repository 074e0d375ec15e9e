// `plan --format azureml` (issue 19 item 5): the YAML emitter read back by PyYAML (the loader
// the Azure ML CLI uses), and the CLI job of a pytorch job, an mpi job and sweeps compared with
// the REST body `run` submits for them, field by field, names mapped as azure-ai-ml's schema
// maps them.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "compiler/plan.h"
#include "runtime/azureml/cli_job_yaml.h"
#include "runtime/azureml/plan_cli_jobs.h"
#include "runtime/azureml/yaml_text.h"
#include "tests/unit/test_support.h"

namespace {

namespace az = amlflow::runtime::azureml;
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

const char* kPython = "/usr/bin/python3";

bool pyyaml() { return std::system((std::string(kPython) + " -c 'import yaml' 2>/dev/null").c_str()) == 0; }

struct HasPyYaml {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(pyyaml());
        result.message() << kPython << " has no yaml module (PyYAML)";
        return result;
    }
};

// The YAML as PyYAML's safe loader reads it, as JSON.
json read_back(const std::string& yaml) {
    amlflow::testing::TempProject folder;
    fs::path file = folder.write("job.yml", yaml);
    std::string command = std::string(kPython) +
                          " -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' '" +
                          file.string() + "'";
    FILE* out = popen(command.c_str(), "r");
    std::string text;
    char buffer[4096];
    while (out && fgets(buffer, sizeof buffer, out)) text += buffer;
    if (out) pclose(out);
    return json::parse(text, nullptr, false);
}

struct Remote {
    amlflow::testing::TempProject project;
    amlflow::runtime::RunPlan plan;
    az::RemoteStepJob job;
    json cli;  // the YAML read back

    Remote(const std::string& body, const std::string& step) {
        project.write("src/train.py", "print('hi')\n");
        project.write("data/a.txt", "x\n");
        std::string text = "workspace ws { subscription = \"s\", resource_group = \"g\", name = \"w\" }\n"
                           "compute gpu : amlcompute { vm_size = \"STANDARD_NC6\", max_nodes = 4 }\n"
                           "environment torch { image = \"img:1\", pip = [\"torch==2.1\", \"numpy\"] }\n" + body;
        auto compiled = project.compile(text);
        BOOST_REQUIRE_MESSAGE(compiled->plan, amlflow::testing::messages(compiled->diagnostics));
        std::string error;
        auto loaded = amlflow::runtime::load_plan(amlflow::compiler::plan_to_json(*compiled->plan), &error);
        BOOST_REQUIRE_MESSAGE(loaded, error);
        plan = std::move(*loaded);
        az::CliJobsOptions options;
        options.plan_folder = options.relative_to = project.root().string();
        options.store_folder = (project.root() / ".amlflow").string();
        options.python_lib = (project.root() / ".amlflow/lib/python").string();
        auto built = az::remote_step_job(plan, *plan.find(step), options, &error);
        BOOST_REQUIRE_MESSAGE(built, error);
        job = std::move(*built);
        auto converted = az::cli_job_from_rest(job.body, job.refs, &error);
        BOOST_REQUIRE_MESSAGE(converted, error);
        cli = read_back(az::yaml_text(*converted));
        BOOST_REQUIRE_MESSAGE(cli.is_object(), az::yaml_text(*converted));
    }
    const json& rest() const { return job.body["properties"]; }
};

long long seconds(const std::string& iso) {
    long long total = 0, part = 0;
    for (char c : iso) {
        if (std::isdigit(static_cast<unsigned char>(c))) part = part * 10 + (c - '0');
        else if (c == 'H' || c == 'M' || c == 'S') total += part * (c == 'H' ? 3600 : c == 'M' ? 60 : 1), part = 0;
    }
    return total;
}

// The fields of a command job, or a sweep's trial, the CLI spells its own way.
void same_command_part(const json& cli, const json& rest, const std::string& distribution) {
    BOOST_TEST(cli["command"] == rest["command"]);
    BOOST_TEST(cli["code"] == "./src");
    BOOST_TEST(cli["environment_variables"] == rest["environmentVariables"]);
    BOOST_TEST(cli["resources"]["instance_count"] == rest["resources"]["instanceCount"]);
    BOOST_TEST(cli["distribution"]["type"] == distribution);
    BOOST_TEST(cli["distribution"]["process_count_per_instance"] == rest["distribution"]["processCountPerInstance"]);
    BOOST_TEST(cli["environment"]["image"] == "img:1");
    // The conda file amlflow writes from the inline lists, as YAML under the key.
    BOOST_TEST(cli["environment"]["conda_file"]["dependencies"].dump().find("torch==2.1") != std::string::npos,
               cli["environment"].dump());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_cli_yaml, *boost::unit_test::precondition(HasPyYaml()))

BOOST_AUTO_TEST_CASE(scalars_read_back_as_they_were) {
    ordered_json value = ordered_json::object();
    std::vector<std::string> words = {"yes", "No", "on", "OFF", "y", "null", "~", "true", "1:30", "0.5", "1e3", "0x1F",
                                      "2024-01-01", ".inf", ".NaN", "-x", "- x", "a: b", "a #b", "#c", "x\ny", "",
                                      " lead", "trail ", "@at", "*star", "&anchor", "!tag", "%pct", "[x]", "{y}", "'q'",
                                      "\"dq\"", "tab\there", "h\u00e9llo", "azureml:x@latest", "./src", "$schema",
                                      "python=3.10", "ends:", "?q", "|pipe", ">fold", "=", "<<", "a,b", "-"};
    ordered_json strings = ordered_json::array();
    for (const std::string& word : words) strings.push_back(word);
    value["strings"] = strings;
    value["numbers"] = {0, -3, 1e-05, 1e+20, 0.1, -6.907755278982137, 2.0, 123456789012};
    value["flags"] = {true, false, nullptr};
    value["empty"] = {{"object", ordered_json::object()}, {"array", ordered_json::array()}};
    value["nested"] = {{{"a", 1}, {"b", {{"c", {1, 2}}}}}, {{"d", ordered_json::array()}}, {1, {2, 3}}};
    value["yes"] = "key that is a special word";
    json back = read_back(az::yaml_text(value));
    BOOST_TEST(back == json::parse(value.dump()), az::yaml_text(value) << "\nread back: " << back.dump());
}

BOOST_AUTO_TEST_CASE(block_yaml_under_a_key_stays_block_yaml) {
    ordered_json conda = {{"$yaml", "name: x\ndependencies:\n  - pip\n  - pip:\n    - a\n"}};
    ordered_json value = {{"environment", {{"image", "i"}, {"conda_file", conda}}}};
    json back = read_back(az::yaml_text(value));
    BOOST_TEST(back["environment"]["conda_file"]["dependencies"][1]["pip"][0] == "a", back.dump());
}

BOOST_AUTO_TEST_CASE(a_pytorch_job_matches_its_rest_body_field_by_field) {
    Remote r("experiment exp {\n  job train {\n    source = \"src\"\n    script = \"train.py\"\n"
             "    args = [\"--lr\", 0.5, \"--data\", \".\" / \"data\"]\n    environment = torch\n    compute = gpu\n"
             "    distribution = pytorch { nodes = 2, processes_per_node = 4 }\n    timeout = 90m\n    restarts = 2\n"
             "    variables = { MODE = \"fast\" }\n  }\n}\n",
             "train");
    const json& cli = r.cli;
    const json& rest = r.rest();
    BOOST_TEST(cli["$schema"] == az::kCommandJobSchema);
    BOOST_TEST(cli["type"] == "command");
    BOOST_TEST(cli["compute"] == "azureml:gpu");
    BOOST_TEST(cli["experiment_name"] == rest["experimentName"]);
    BOOST_TEST(cli["display_name"] == rest["displayName"]);
    same_command_part(cli, rest, "pytorch");
    BOOST_TEST(cli["distribution"]["process_count_per_instance"] == 4);
    BOOST_TEST(cli["resources"]["instance_count"] == 2);
    BOOST_TEST(cli["limits"]["timeout"] == seconds(rest["limits"]["timeout"]));
    BOOST_TEST(cli["limits"]["timeout"] == 5400);
    BOOST_TEST(cli["environment_variables"]["MODE"] == "fast");
    BOOST_TEST(cli["environment_variables"]["TORCHELASTIC_MAX_RESTARTS"] == "2");
    BOOST_TEST(cli["tags"] == rest["tags"]);
    // Inputs: the helper and the data folder, local paths the CLI uploads; named as in the
    // command, which reads them through ${{inputs.x}}.
    for (const auto& [name, input] : rest["inputs"].items()) {
        BOOST_TEST(cli["inputs"][name]["type"] == input["jobInputType"]);
        BOOST_TEST(cli["inputs"][name]["path"] == input["uri"]);
        BOOST_TEST(cli["inputs"][name]["mode"] == "ro_mount");
        BOOST_TEST(cli["command"].get<std::string>().find("${{inputs." + name + "}}") != std::string::npos, name);
    }
    BOOST_TEST(cli["inputs"]["amlflow_lib"]["path"] == "./.amlflow/lib/python");
    BOOST_TEST(cli["inputs"].dump().find("./data") != std::string::npos, cli["inputs"].dump());
    BOOST_TEST(cli["outputs"]["checkpoints"]["type"] == "uri_folder");
    BOOST_TEST(cli["outputs"]["checkpoints"]["mode"] == "rw_mount");
    BOOST_TEST(cli["outputs"]["checkpoints"]["path"] == rest["outputs"]["checkpoints"]["uri"]);
    BOOST_TEST(r.job.note.find("azureml:amlflow-torch:") != std::string::npos, r.job.note);
}

BOOST_AUTO_TEST_CASE(an_mpi_job_is_an_mpi_distribution) {
    Remote r("experiment exp {\n  job reduce {\n    source = \"src\"\n    script = \"train.py\"\n    environment = torch\n"
             "    compute = gpu\n    distribution = mpi { nodes = 2, processes_per_node = 2 }\n  }\n}\n",
             "reduce");
    same_command_part(r.cli, r.rest(), "mpi");
    BOOST_TEST(r.rest()["distribution"]["distributionType"] == "Mpi");
    BOOST_TEST(!r.cli.contains("limits"));
}

BOOST_AUTO_TEST_CASE(a_sweep_is_a_sweep_job_with_the_services_search_space) {
    Remote r("experiment exp {\n  job train(lr: float = 0.1, layers: int = 2, drop: float = 0.1, mom: float = 0.9) {\n"
             "    source = \"src\"\n    script = \"train.py\"\n    args = [\"--lr\", lr, \"--layers\", layers, \"--drop\", drop,"
             " \"--mom\", mom]\n    environment = torch\n    compute = gpu\n"
             "    distribution = pytorch { processes_per_node = 2 }\n    timeout = 10m\n    metrics = [\"acc\"]\n  }\n"
             "  sweep tune over train {\n    space { lr = loguniform(1e-4, 1e-1), layers = choice(1, 2, 4),"
             " drop = quniform(0.0, 0.5, 0.1), mom = uniform(0.8, 0.99) }\n"
             "    sampling = random\n    objective = maximize(\"acc\")\n    trials = 12\n    parallel = 3\n    timeout = 2h\n"
             "    early_stop = truncation { percent = 20, interval = 2, delay = 3 }\n  }\n}\n",
             "tune");
    const json& cli = r.cli;
    const json& rest = r.rest();
    BOOST_TEST(cli["$schema"] == az::kSweepJobSchema);
    BOOST_TEST(cli["type"] == "sweep");
    BOOST_TEST(cli["compute"] == "azureml:gpu");
    BOOST_TEST(cli["sampling_algorithm"]["type"] == "random");
    BOOST_TEST(cli["sampling_algorithm"]["seed"] == rest["samplingAlgorithm"]["seed"]);
    BOOST_TEST(cli["objective"] == (json{{"primary_metric", "acc"}, {"goal", "maximize"}}));
    const json& space = rest["searchSpace"];
    BOOST_TEST(cli["search_space"]["lr"]["type"] == "loguniform");
    BOOST_TEST(cli["search_space"]["lr"]["min_value"] == space["lr"][1][0]);  // ln(1e-4), as the service takes it
    BOOST_TEST(std::abs(cli["search_space"]["lr"]["min_value"].get<double>() - std::log(1e-4)) < 1e-12);
    BOOST_TEST(cli["search_space"]["lr"]["max_value"] == space["lr"][1][1]);
    BOOST_TEST(cli["search_space"]["layers"] == (json{{"type", "choice"}, {"values", {1, 2, 4}}}));
    BOOST_TEST(cli["search_space"]["drop"]["q"] == space["drop"][1][2]);
    BOOST_TEST(cli["search_space"]["mom"]["max_value"] == space["mom"][1][1]);
    BOOST_TEST(cli["early_termination"] == (json{{"type", "truncation_selection"}, {"truncation_percentage", 20},
                                                 {"evaluation_interval", 2}, {"delay_evaluation", 3}}));
    BOOST_TEST(cli["limits"] == (json{{"max_total_trials", 12}, {"max_concurrent_trials", 3}, {"timeout", 7200},
                                      {"trial_timeout", 600}}));
    same_command_part(cli["trial"], rest["trial"], "pytorch");
    BOOST_TEST(cli["trial"]["command"].get<std::string>().find("'${{search_space.lr}}'") != std::string::npos);
    BOOST_TEST(cli["outputs"]["checkpoints"]["mode"] == "rw_mount");
    BOOST_TEST(!cli["outputs"]["checkpoints"].contains("path"));
}

BOOST_AUTO_TEST_CASE(bandit_and_median_policies_and_bayesian_sampling) {
    const char* job = "experiment exp {\n  job train(lr: float = 0.1) {\n    source = \"src\"\n    script = \"train.py\"\n"
                      "    args = [lr]\n    environment = torch\n    compute = gpu\n    metrics = [\"loss\"]\n  }\n";
    Remote bandit(std::string(job) + "  sweep tune over train {\n    space { lr = uniform(0.0, 1.0) }\n"
                  "    objective = minimize(\"loss\")\n    early_stop = bandit { slack = 0.2, interval = 1, delay = 5 }\n  }\n}\n",
                  "tune");
    BOOST_TEST(bandit.cli["early_termination"] == (json{{"type", "bandit"}, {"slack_factor", 0.2},
                                                        {"evaluation_interval", 1}, {"delay_evaluation", 5}}));
    BOOST_TEST(bandit.cli["objective"]["goal"] == "minimize");
    Remote median(std::string(job) + "  sweep tune over train {\n    space { lr = choice(0.1, 0.2) }\n"
                  "    sampling = grid\n    objective = minimize(\"loss\")\n    early_stop = median { interval = 1 }\n  }\n}\n",
                  "tune");
    BOOST_TEST(median.cli["early_termination"]["type"] == "median_stopping");
    BOOST_TEST(median.cli["sampling_algorithm"] == (json{{"type", "grid"}}));
    BOOST_TEST(median.cli["limits"]["max_total_trials"] == 2);
    Remote bayes(std::string(job) + "  sweep tune over train {\n    space { lr = quniform(0.0, 1.0, 0.1) }\n"
                 "    sampling = bayesian\n    objective = minimize(\"loss\")\n  }\n}\n",
                 "tune");
    BOOST_TEST(bayes.cli["sampling_algorithm"] == (json{{"type", "bayesian"}}));
    BOOST_TEST(!bayes.cli.contains("early_termination"));
}

BOOST_AUTO_TEST_CASE(a_rest_field_without_a_cli_form_is_an_error_not_an_omission) {
    az::CliJobRefs refs{"./src", "azureml:x@latest", "gpu"};
    std::string error;
    json body = {{"properties", {{"jobType", "Command"}, {"command", "echo"}, {"queueSettings", {{"jobTier", "Spot"}}}}}};
    BOOST_TEST(!az::cli_job_from_rest(body, refs, &error));
    BOOST_TEST(error.find("'queueSettings'") != std::string::npos, error);
    json odd = {{"properties", {{"jobType", "Command"}, {"command", "echo"}, {"distribution", {{"distributionType", "Ray"}}}}}};
    BOOST_TEST(!az::cli_job_from_rest(odd, refs, &error));
    BOOST_TEST(error.find("'Ray'") != std::string::npos, error);
    json pipeline = {{"properties", {{"jobType", "Pipeline"}}}};
    BOOST_TEST(!az::cli_job_from_rest(pipeline, refs, &error));
}

BOOST_AUTO_TEST_SUITE_END()
