// The environment check's stamp (runtime/core/environment_stamp.h) against a real
// interpreter (/usr/bin/python3) and a throwaway package on PYTHONPATH: what a check
// records, that a removed package or a new interpreter breaks the stamp, that a folder
// changed just now is not trusted, and that the run store keeps a stamp as it was given.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include "runtime/core/environment_check.h"
#include "runtime/store/run_store.h"
#include "tests/unit/test_support.h"

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using amlflow::testing::TempProject;
using nlohmann::json;

namespace {

constexpr const char* kPackage = "amlflowstampfake";

// A package that importlib.metadata finds: its metadata folder in `folder`.
fs::path write_package(const TempProject& project, const std::string& folder) {
    project.write(folder + "/" + kPackage + "-1.0.dist-info/METADATA",
                  std::string("Metadata-Version: 2.1\nName: ") + kPackage + "\nVersion: 1.0\n");
    return project.root() / folder;
}

// An hour ago: older than any check's racy margin.
void backdate(const fs::path& path) {
    fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
}

void backdate_package(const fs::path& folder) {
    backdate(folder / (std::string(kPackage) + "-1.0.dist-info"));
    backdate(folder);
}

json environment_with(const std::string& python) {
    return json{{"python", python}, {"pip", json::array({std::string(kPackage) + ">=1.0"})}};
}

bool watches(const EnvironmentStamp& stamp, const fs::path& path) {
    for (const auto& [watched, identity] : stamp.watched) {
        if (watched == path.string()) return identity != "missing";
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(environment_stamp)

BOOST_AUTO_TEST_CASE(a_check_that_finds_everything_leaves_a_stamp_that_a_removal_breaks) {
    TempProject project;
    fs::path packages = write_package(project, "pkgs");
    backdate_package(packages);
    auto variables = startup_variables({{"PYTHONPATH", packages.string()}});
    std::string error;
    auto ready = prepare_environment(environment_with("/usr/bin/python3"), variables, "0123456789abcdef0123",
                                     project.root() / "envs", &error);
    BOOST_TEST_REQUIRE(bool(ready), error);
    BOOST_TEST(ready->python == "/usr/bin/python3");
    BOOST_TEST_REQUIRE(bool(ready->stamp));
    const EnvironmentStamp& stamp = *ready->stamp;
    BOOST_TEST(stamp.interpreter == fs::canonical("/usr/bin/python3").string());
    BOOST_TEST(stamp.identity == file_identity(stamp.interpreter));
    BOOST_TEST(stamp.ready_python == "/usr/bin/python3");
    BOOST_TEST(json::parse(stamp.requirements_json) == json::array({std::string(kPackage) + ">=1.0"}));
    BOOST_TEST(json::parse(stamp.variables_json).value("PYTHONPATH", "") == packages.string());
    BOOST_TEST(watches(stamp, packages), "PYTHONPATH's folder is watched");
    BOOST_TEST(watches(stamp, packages / (std::string(kPackage) + "-1.0.dist-info")));
    std::string changed;
    BOOST_TEST(stamp_holds(stamp, &changed), changed);

    // Uninstalled: its folder leaves PYTHONPATH's folder, whose mtime changes.
    fs::remove_all(packages / (std::string(kPackage) + "-1.0.dist-info"));
    BOOST_TEST(!stamp_holds(stamp, &changed));
    BOOST_TEST(changed.find(packages.string()) != std::string::npos, changed);
}

BOOST_AUTO_TEST_CASE(a_new_interpreter_breaks_the_stamp) {
    TempProject project;
    fs::path packages = write_package(project, "pkgs");
    backdate_package(packages);
    fs::create_directories(project.root() / "bin");
    fs::path python = project.root() / "bin" / "python";
    fs::create_symlink("/usr/bin/python3", python);
    std::string error;
    auto variables = startup_variables({{"PYTHONPATH", packages.string()}});
    auto ready = prepare_environment(environment_with(python.string()), variables, "0123456789abcdef0123",
                                     project.root() / "envs", &error);
    BOOST_TEST_REQUIRE(bool(ready), error);
    BOOST_TEST_REQUIRE(bool(ready->stamp));
    BOOST_TEST(ready->stamp->interpreter == fs::canonical("/usr/bin/python3").string());
    std::string changed;
    BOOST_TEST(stamp_holds(*ready->stamp, &changed), changed);

    // The link now names another file (a copy stands for another interpreter).
    fs::path other = project.root() / "other-python";
    fs::copy_file(fs::canonical("/usr/bin/python3"), other);
    fs::remove(python);
    fs::create_symlink(other, python);
    BOOST_TEST(!stamp_holds(*ready->stamp, &changed));
    BOOST_TEST(changed == "'" + python.string() + "' is now '" + fs::canonical(other).string() + "'");
    fs::remove(python);
    BOOST_TEST(!stamp_holds(*ready->stamp, &changed));
    BOOST_TEST(changed == "'" + python.string() + "' is now ''");
}

// A script that starts the interpreter (a pyenv shim, a wrapper) may start another one
// next time with no file changed: its answer is used, never kept.
BOOST_AUTO_TEST_CASE(an_interpreter_started_by_a_script_leaves_no_stamp) {
    TempProject project;
    fs::path packages = write_package(project, "pkgs");
    backdate_package(packages);
    fs::path python = project.write("bin/python", "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n");
    fs::permissions(python, fs::perms::owner_all, fs::perm_options::add);
    backdate(python);
    std::string error;
    auto ready = prepare_environment(environment_with(python.string()), startup_variables({{"PYTHONPATH", packages.string()}}),
                                     "0123456789abcdef0123", project.root() / "envs", &error);
    BOOST_TEST_REQUIRE(bool(ready), error);
    BOOST_TEST(ready->python == python.string());
    BOOST_TEST(!ready->stamp);
}

// A folder changed within the racy margin of the check could change again in the same
// clock tick without its mtime showing it: no stamp, so the next run checks again.
BOOST_AUTO_TEST_CASE(a_folder_changed_just_now_leaves_no_stamp) {
    TempProject project;
    fs::path packages = write_package(project, "pkgs");
    std::string error;
    auto ready = prepare_environment(environment_with("/usr/bin/python3"), startup_variables({{"PYTHONPATH", packages.string()}}),
                                     "0123456789abcdef0123", project.root() / "envs", &error);
    BOOST_TEST_REQUIRE(bool(ready), error);
    BOOST_TEST(!ready->stamp);
}

BOOST_AUTO_TEST_CASE(startup_variables_take_the_environments_python_names_over_ours) {
    auto variables = startup_variables({{"PYTHONPATH", "/x"}, {"PYTHONNOUSERSITE", "1"}, {"NCCL_DEBUG", "INFO"}});
    BOOST_TEST(variables["PYTHONPATH"] == "/x");
    BOOST_TEST(variables["PYTHONNOUSERSITE"] == "1");
    BOOST_TEST(!variables.count("NCCL_DEBUG"));
    BOOST_TEST(!variables.count("PATH"));
    if (const char* home = std::getenv("HOME")) BOOST_TEST(variables["HOME"] == home);
}

BOOST_AUTO_TEST_CASE(programs_resolve_as_spawn_finds_them) {
    BOOST_TEST(resolve_program("python3").front() == '/');
    BOOST_TEST(resolve_program("/usr/bin/python3") == fs::canonical("/usr/bin/python3").string());
    BOOST_TEST(resolve_program("python3.99-amlflow-missing").empty());
    BOOST_TEST(file_identity("/nonexistent/amlflow") == "missing");
}

BOOST_AUTO_TEST_CASE(the_store_keeps_a_stamp_by_its_question) {
    TempProject project;
    std::string error;
    auto store = RunStore::open(project.root() / "store", &error);
    BOOST_TEST_REQUIRE(bool(store), error);
    EnvironmentStamp stamp;
    stamp.python = "python3";
    stamp.requirements_json = R"(["torch>=1.13"])";
    stamp.variables_json = R"({"HOME":"/root"})";
    BOOST_TEST(!store->find_environment_stamp(stamp));
    stamp.interpreter = "/usr/bin/python3.11";
    stamp.identity = "1:2:3:4";
    stamp.watched = {{"/usr/lib/python3/dist-packages", "1:5:4096:6"}, {"/usr/pyvenv.cfg", "missing"}};
    stamp.ready_python = "python3";
    stamp.verified_ms = 1700000000000;
    BOOST_TEST_REQUIRE(store->put_environment_stamp(stamp), store->last_error());
    auto found = store->find_environment_stamp(stamp);
    BOOST_TEST_REQUIRE(bool(found), store->last_error());
    BOOST_TEST(found->interpreter == stamp.interpreter);
    BOOST_TEST(found->identity == stamp.identity);
    BOOST_TEST((found->watched == stamp.watched));
    BOOST_TEST(found->ready_python == "python3");
    BOOST_TEST(found->verified_ms == stamp.verified_ms);

    // Another question (other variables) has no answer; the same question is answered anew.
    EnvironmentStamp other = stamp;
    other.variables_json = R"({"HOME":"/home/x"})";
    BOOST_TEST(!store->find_environment_stamp(other));
    stamp.ready_python = "/store/envs/abc/bin/python";
    BOOST_TEST_REQUIRE(store->put_environment_stamp(stamp));
    BOOST_TEST(store->find_environment_stamp(stamp)->ready_python == "/store/envs/abc/bin/python");
}

BOOST_AUTO_TEST_SUITE_END()
