// The golden corpus: every tests/golden/*.amlflow compiled, its outcome checked against
// its name (parse-fail-*, check-fail-*, plan-ok-*) and its full output (diagnostics as
// rendered, caret included, or the plan's JSON) against the .expected file beside it.
// Every example's plan is compared the same way. AMLFLOW_UPDATE_GOLDEN=1 rewrites the
// expected files instead.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/compile.h"

namespace fs = std::filesystem;
using namespace amlflow::compiler;

namespace {

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// `// set: name=value` lines at the top of a case become --set values.
std::vector<std::string> sets_of(const std::string& text) {
    std::vector<std::string> sets;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line) && line.rfind("//", 0) == 0) {
        if (line.rfind("// set: ", 0) == 0) sets.push_back(line.substr(8));
    }
    return sets;
}

// A `// compute: NAME` line at the top checks the case as `--compute NAME` does.
std::string compute_of(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line) && line.rfind("//", 0) == 0) {
        if (line.rfind("// compute: ", 0) == 0) return line.substr(12);
    }
    return "";
}

// A `// machine: cpus=N gpus=M` line at the top makes the checker see that machine, so a
// case about this machine's defaults has the same outcome on every machine.
std::function<MachineShape()> machine_of(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line) && line.rfind("//", 0) == 0) {
        if (line.rfind("// machine: ", 0) != 0) continue;
        MachineShape shape;
        std::istringstream words(line.substr(12));
        std::string word;
        while (words >> word) {
            if (word.rfind("cpus=", 0) == 0) shape.cpus = std::stoll(word.substr(5));
            if (word.rfind("gpus=", 0) == 0) shape.gpus = std::stoll(word.substr(5));
        }
        return [shape] { return shape; };
    }
    return {};
}

bool has_code(const Diagnostics& diagnostics, const std::string& code) {
    for (const Diagnostic& d : diagnostics.all()) {
        if (d.code == code && d.severity == Severity::Error) return true;
    }
    return false;
}

std::string outcome(const CompileResult& result) {
    std::string text = render_text(result.diagnostics, RenderOptions{false});
    if (result.plan) text += plan_to_json(*result.plan).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    return text;
}

void compare(const fs::path& expected_path, const std::string& actual) {
    if (std::getenv("AMLFLOW_UPDATE_GOLDEN")) {
        std::ofstream(expected_path, std::ios::binary) << actual;
        return;
    }
    BOOST_TEST_INFO("expected file: " << expected_path.string() << " (AMLFLOW_UPDATE_GOLDEN=1 rewrites it)");
    BOOST_REQUIRE_MESSAGE(fs::exists(expected_path), "missing " << expected_path);
    BOOST_TEST(read(expected_path) == actual);
}

std::vector<fs::path> cases(const fs::path& folder) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.path().extension() == ".amlflow") found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(golden)

BOOST_AUTO_TEST_CASE(corpus_outcomes_match_names_and_expected_output) {
    size_t failing = 0;
    for (const fs::path& path : cases("tests/golden")) {
        std::string name = path.filename().string();
        BOOST_TEST_CONTEXT("case " << name) {
            CompileOptions options;
            options.sets = sets_of(read(path));
            options.machine = machine_of(read(path));
            options.compute = compute_of(read(path));
            auto result = compile_file(path.generic_string(), options);
            if (name.rfind("parse-fail-", 0) == 0) {
                BOOST_TEST(has_code(result->diagnostics, "syntax"));
                ++failing;
            } else if (name.rfind("check-fail-", 0) == 0) {
                BOOST_TEST(result->diagnostics.has_errors());
                BOOST_TEST(!has_code(result->diagnostics, "syntax"));
                ++failing;
            } else {
                BOOST_TEST_REQUIRE(name.rfind("plan-ok-", 0) == 0, "a case is named parse-fail-, check-fail- or plan-ok-");
                BOOST_TEST(!result->diagnostics.has_errors());
                BOOST_TEST(result->plan.has_value());
            }
            fs::path expected = path;
            compare(expected.replace_extension(".expected"), outcome(*result));
        }
    }
    BOOST_TEST(failing >= 60u, "the corpus holds at least 60 failing cases");
}

BOOST_AUTO_TEST_CASE(every_example_checks_and_matches_its_golden_plan) {
    size_t examples = 0;
    for (const auto& entry : fs::directory_iterator("examples")) {
        if (!entry.is_directory()) continue;
        std::string name = entry.path().filename().string();
        fs::path file = entry.path() / (name + ".amlflow");
        BOOST_TEST_CONTEXT("example " << name) {
            BOOST_TEST_REQUIRE(fs::exists(file), "each example folder holds <folder>.amlflow");
            auto result = compile_file(file.generic_string(), CompileOptions{});
            BOOST_TEST(render_text(result->diagnostics, RenderOptions{false}) == "");
            BOOST_TEST_REQUIRE(result->plan.has_value());
            compare(fs::path("tests/golden/examples") / (name + ".plan.json"), plan_to_json(*result->plan).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
            ++examples;
        }
    }
    BOOST_TEST(examples >= 7u);
}

BOOST_AUTO_TEST_SUITE_END()
