// The code hash of Azure ML (hash version 202208) against NOTES' golden vectors and an
// independent Python computation of the SDK's algorithm (tests/azureml/code_hash_reference.py,
// since azure-ai-ml is not installed here); the resource manager's endpoint, paths and the
// job name rule.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <regex>
#include <set>

#include "compiler/sha256.h"
#include "runtime/azureml/arm_endpoint.h"
#include "runtime/azureml/code_hash.h"
#include "test_support.h"

namespace az = amlflow::runtime::azureml;
namespace fs = std::filesystem;

namespace {

std::string hash_of(const fs::path& root, const fs::path& leave_out = {}) {
    std::string error;
    auto snapshot = az::hash_code_folder(root, leave_out, &error);
    BOOST_TEST_REQUIRE(snapshot.has_value(), error);
    return snapshot->hash;
}

std::string reference_hash(const fs::path& root) {
    std::string command = "/usr/bin/python3 '" + std::string(AMLFLOW_SOURCE_DIR) +
                          "/tests/azureml/code_hash_reference.py' '" + root.string() + "'";
    FILE* pipe = popen(command.c_str(), "r");
    BOOST_TEST_REQUIRE(pipe != nullptr);
    char line[128] = {0};
    BOOST_TEST_REQUIRE(fgets(line, sizeof line, pipe) != nullptr);
    BOOST_TEST_REQUIRE(pclose(pipe) == 0);
    std::string text = line;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_code_hash)

BOOST_AUTO_TEST_CASE(golden_vectors_of_the_notes) {
    amlflow::testing::TempProject project;
    project.write("code/train.py", "print(\"hi\")\n");
    BOOST_TEST(hash_of(project.root() / "code") == "f2e83ea403dfd05ebd705a41cef9d666adef0e7a5a7d10035743b1d37bc8ec6e");
    project.write("code/data/a.txt", "x\n");
    BOOST_TEST(hash_of(project.root() / "code") == "69934b388bf4e0f7ed658a6870a273a83268a4364813b39854e1c7cc47a5dc1c");
    BOOST_TEST(amlflow::compiler::sha256_hex("2#data/a.txt#2#train.py#12x\nprint(\"hi\")\n") ==
               "69934b388bf4e0f7ed658a6870a273a83268a4364813b39854e1c7cc47a5dc1c");
    std::string error;
    auto files = az::code_files(project.root() / "code", {}, &error);
    BOOST_TEST_REQUIRE(files.has_value());
    BOOST_TEST_REQUIRE(files->size() == 2u);
    BOOST_TEST((*files)[0].relative == "data/a.txt");
    BOOST_TEST((*files)[1].size == 12u);
}

BOOST_AUTO_TEST_CASE(a_folder_hashes_as_the_sdk_algorithm_computes_it) {
    amlflow::testing::TempProject project;
    fs::path code = project.root() / "code";
    project.write("code/train.py", "import os\nprint(os.getcwd())\n");
    project.write("code/README.md", "# readme\n");
    project.write("code/Zeta/b.py", "b = 2\n");
    project.write("code/alpha/A.py", "a = 1\n");
    project.write("code/alpha/a.txt.bak", "old\n");
    project.write("code/alpha.py", "dot before slash\n");
    project.write("code/logs/run.log", "ignored\n");
    project.write("code/outputs/model.pt", "ignored folder\n");
    project.write("code/data/keep.csv", "1,2\n");
    project.write("code/data/scratch.tmp", "ignored by pattern\n");
    project.write("code/__pycache__/train.cpython-311.pyc", "kept: the SDK keeps what the ignore file keeps\n");
    project.write("code/.amlignore", "# build products\n*.log\noutputs/\n*.tmp\n*.bak\n");
    project.write("code/.gitignore", "*.py\n");  // not read: .amlignore wins
    project.write("shared/helpers.py", "def help(): pass\n");
    fs::create_directory_symlink(project.root() / "shared", code / "linked");
    fs::create_symlink(project.root() / "shared" / "helpers.py", code / "helpers_link.py");

    std::string ours = hash_of(code);
    BOOST_TEST(ours == reference_hash(code));
    std::string error;
    auto files = az::code_files(code, {}, &error);
    std::vector<std::string> names;
    for (const auto& f : *files) names.push_back(f.relative);
    std::vector<std::string> expected = {".amlignore", ".gitignore", "__pycache__/train.cpython-311.pyc",
                                         "alpha.py", "alpha/A.py", "data/keep.csv", "helpers_link.py",
                                         "linked/helpers.py", "README.md", "train.py", "Zeta/b.py"};
    BOOST_TEST(names == expected, boost::test_tools::per_element());

    // Any change to a kept file's bytes or name changes the hash; an ignored file does not.
    project.write("code/logs/run.log", "still ignored, new text\n");
    BOOST_TEST(hash_of(code) == ours);
    project.write("code/data/keep.csv", "1,3\n");
    BOOST_TEST(hash_of(code) != ours);
    BOOST_TEST(hash_of(code) == reference_hash(code));
}

BOOST_AUTO_TEST_CASE(the_run_store_inside_the_folder_is_left_out) {
    amlflow::testing::TempProject project;
    project.write("train.py", "print(\"hi\")\n");
    project.write(".amlflow/runs.db", "a run store");
    BOOST_TEST(hash_of(project.root(), project.root() / ".amlflow") ==
               "f2e83ea403dfd05ebd705a41cef9d666adef0e7a5a7d10035743b1d37bc8ec6e");
    BOOST_TEST(hash_of(project.root()) != "f2e83ea403dfd05ebd705a41cef9d666adef0e7a5a7d10035743b1d37bc8ec6e");
}

BOOST_AUTO_TEST_CASE(a_folder_that_cannot_be_hashed_says_why) {
    amlflow::testing::TempProject project;
    std::string error;
    BOOST_TEST(!az::hash_code_folder(project.root() / "missing", {}, &error).has_value());
    BOOST_TEST(error.find("is not a directory") != std::string::npos, error);
    project.write("code/train.py", "x");
    fs::create_symlink(project.root() / "nowhere", project.root() / "code" / "dangling");
    BOOST_TEST(!az::hash_code_folder(project.root() / "code", {}, &error).has_value());
    BOOST_TEST(error.find("points nowhere") != std::string::npos, error);
    // A link cycle is walked once, not forever.
    fs::remove(project.root() / "code" / "dangling");
    fs::create_directory_symlink(project.root() / "code", project.root() / "code" / "loop");
    BOOST_TEST(az::hash_code_folder(project.root() / "code", {}, &error).has_value(), error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(azureml_arm_endpoint)

BOOST_AUTO_TEST_CASE(the_endpoint_defaults_to_the_public_cloud_and_refuses_plain_http_elsewhere) {
    std::string error;
    auto arm = az::ArmEndpoint::from_setting(nullptr, &error);
    BOOST_TEST_REQUIRE(arm.has_value(), error);
    BOOST_TEST(arm->base() == "https://management.azure.com");
    BOOST_TEST(arm->scope() == "https://management.azure.com/.default");
    BOOST_TEST(arm->resource() == "https://management.azure.com/");
    auto local = az::ArmEndpoint::from_setting("http://127.0.0.1:8123/", &error);
    BOOST_TEST_REQUIRE(local.has_value(), error);
    BOOST_TEST(local->base() == "http://127.0.0.1:8123");
    BOOST_TEST(!az::ArmEndpoint::from_setting("http://management.example.com", &error).has_value());
    BOOST_TEST(error.find("AMLFLOW_ARM_ENDPOINT") == 0, error);
    BOOST_TEST(error.find("only loopback hosts") != std::string::npos, error);
    BOOST_TEST(!az::ArmEndpoint::from_setting("https://management.azure.com/sub", &error).has_value());
    BOOST_TEST(!az::ArmEndpoint::from_setting("https://user:pw@management.azure.com", &error).has_value());
}

BOOST_AUTO_TEST_CASE(resource_paths_and_urls) {
    az::WorkspaceRef ws{"sub-1", "my rg", "ws"};
    std::string error;
    auto arm = az::ArmEndpoint::from_setting(nullptr, &error);
    std::string base = "/subscriptions/sub-1/resourceGroups/my%20rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
    BOOST_TEST(az::workspace_path(ws) == base);
    BOOST_TEST(arm->url(az::job_path(ws, "amlflow-x")) ==
               "https://management.azure.com" + base + "/jobs/amlflow-x?api-version=2022-10-01");
    BOOST_TEST(az::job_cancel_path(ws, "j") == base + "/jobs/j/cancel");
    BOOST_TEST(az::compute_path(ws, "gpu-cluster") == base + "/computes/gpu-cluster");
    BOOST_TEST(az::environment_version_path(ws, "torch", "3") == base + "/environments/torch/versions/3");
    BOOST_TEST(az::code_version_path(ws, "c", "1") == base + "/codes/c/versions/1");
    BOOST_TEST(az::code_pending_upload_path(ws, "c", "1") == base + "/codes/c/versions/1/startPendingUpload");
    BOOST_TEST(az::model_version_path(ws, "birds", "2") == base + "/models/birds/versions/2");
    BOOST_TEST(az::datastores_path(ws) == base + "/datastores");
    BOOST_TEST(arm->url(az::code_versions_path(ws, "c"), az::kArmApiVersionCodeHash, "hash=ab&hashVersion=202208") ==
               "https://management.azure.com" + base + "/codes/c/versions?api-version=2023-04-01&hash=ab&hashVersion=202208");
}

BOOST_AUTO_TEST_CASE(job_names_are_valid_deterministic_and_distinct) {
    const std::regex rule("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$");
    std::string long_step(400, 'x');
    std::vector<std::tuple<std::string, std::string, int>> inputs = {
        {"20240101-120000-ab12", "train", 0},  {"20240101-120000-ab12", "train", 1},
        {"20240101-120000-ab12", "tune.3", 0}, {"20240101-120000-ab12", "tune_3", 0},
        {"20240101-120000-ab12", "tune/3", 0}, {"20240101-120000-ab13", "train", 0},
        {"", "", 0},                           {"run", "étape ünïcode", 2},
        {"run", long_step, 7},                 {"run", long_step + "y", 7},
        {std::string(300, 'r'), "s", 1},       {"-run", "[bracketed]", 12345}};
    std::set<std::string> names;
    for (const auto& [run, step, attempt] : inputs) {
        std::string name = az::job_name(run, step, attempt);
        BOOST_TEST(std::regex_match(name, rule), name);
        BOOST_TEST(az::valid_job_name(name), name);
        BOOST_TEST(name == az::job_name(run, step, attempt));
        names.insert(name);
    }
    BOOST_TEST(names.size() == inputs.size());
    BOOST_TEST(az::job_name("20240101-120000-ab12", "train", 1).find("amlflow-20240101-120000-ab12-train-1-") == 0);
    for (const char* bad : {"", "-x", "_x", "a.b", "a[1]", "a b"}) BOOST_TEST(!az::valid_job_name(bad), bad);
    BOOST_TEST(!az::valid_job_name(std::string(256, 'a')));
    BOOST_TEST(az::valid_job_name(std::string(255, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()
