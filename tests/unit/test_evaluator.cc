#include <boost/test/unit_test.hpp>

#include "test_support.h"

using namespace amlflow::compiler;
using amlflow::testing::TempProject;
using amlflow::testing::has_message;
using amlflow::testing::messages;

namespace {

// Evaluates `expr` as the args of a job and returns the plan's JSON for it.
nlohmann::json eval_arg(const std::string& prelude, const std::string& expr) {
    TempProject project;
    project.write("t.py", "\n");
    auto result = project.compile(prelude + "\nexperiment e {\n job up { script = \"t.py\" }\n job j { script = \"t.py\", args = [" +
                                  expr + "] }\n}\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    return amlflow::testing::node(*result->plan, "step:j")->spec()["args"][0];
}

std::string eval_error(const std::string& expr) {
    TempProject project;
    auto result = project.compile("let x = " + expr + "\n");
    return messages(result->diagnostics);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(evaluator)

BOOST_AUTO_TEST_CASE(arithmetic_on_numbers_durations_and_sizes) {
    BOOST_TEST(eval_arg("", "2 + 3 * 4") == 14);
    BOOST_TEST(eval_arg("", "7 / 2") == 3.5);
    BOOST_TEST(eval_arg("", "-(1 - 3)") == 2);
    BOOST_TEST(eval_arg("", "1h + 30m")["$duration_ms"] == 5400000);
    BOOST_TEST(eval_arg("", "2GiB * 2")["$bytes"] == 4294967296LL);
    BOOST_TEST(eval_arg("", "\"a\" + \"b\"") == "ab");
}

BOOST_AUTO_TEST_CASE(interpolation_formats_values_as_arguments) {
    BOOST_TEST(eval_arg("param lr: float = 0.001\nlet n = 3", "\"lr=${lr} n=${n + 1}\"") == "lr=0.001 n=4");
}

BOOST_AUTO_TEST_CASE(step_results_stay_symbolic) {
    nlohmann::json path = eval_arg("", "up.outputs / \"model.pt\"");
    BOOST_TEST(path["$output"]["step"] == "up");
    BOOST_TEST(path["$output"]["path"] == "model.pt");
    nlohmann::json format = eval_arg("", "\"--model=${up.outputs / \\\"m.pt\\\"}\"");
    BOOST_TEST_REQUIRE(format.contains("$format"));
    BOOST_TEST(format["$format"][0] == "--model=");
    BOOST_TEST(format["$format"][1]["$output"]["step"] == "up");
}

BOOST_AUTO_TEST_CASE(path_joins_cannot_leave_their_folder) {
    BOOST_TEST(eval_error("\"a\" / \"../b\"").find("cannot leave its folder") != std::string::npos);
    BOOST_TEST(eval_error("\"a\" / \"/etc\"").find("absolute") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_leading_tilde_is_the_home_folder) {
    setenv("HOME", "/home/alice", 1);
    BOOST_TEST(eval_arg("", "\"~/data\" / \"x.csv\"")["$path"] == "/home/alice/data/x.csv");
    BOOST_TEST(eval_arg("param p: path = \"~/data\"", "p")["$path"] == "/home/alice/data");
    BOOST_TEST(eval_arg("param p: path = \"~bob/data\"", "p")["$path"] == "~bob/data");
}

BOOST_AUTO_TEST_CASE(a_secret_read_into_the_file_is_a_warning) {
    setenv("AMLFLOW_TEST_CLIENT_SECRET", "s3cr3t", 1);
    setenv("AMLFLOW_TEST_DATA_DIR", "/data", 1);
    setenv("AMLFLOW_TEST_API_KEY", "k", 1);
    BOOST_TEST(eval_error("env(\"AMLFLOW_TEST_CLIENT_SECRET\")").find("the value of 'AMLFLOW_TEST_CLIENT_SECRET' "
                                                                 "looks like a secret") != std::string::npos);
    BOOST_TEST(eval_error("env(\"AMLFLOW_TEST_API_KEY\")").find("looks like a secret") != std::string::npos);
    BOOST_TEST(eval_error("env(\"AMLFLOW_TEST_DATA_DIR\")").find("secret") == std::string::npos);
    // Unset with a default: nothing secret is written.
    BOOST_TEST(eval_error("env(\"AMLFLOW_TEST_UNSET_TOKEN\", \"x\")").find("secret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(type_errors_are_reported_not_thrown) {
    BOOST_TEST(eval_error("1 + \"a\"").find("cannot apply '+' to an int and a string") != std::string::npos);
    BOOST_TEST(eval_error("1 / 0").find("division by zero") != std::string::npos);
    BOOST_TEST(eval_error("9223372036854775807 + 1").find("does not fit") != std::string::npos);
    BOOST_TEST(eval_error("loguniform(0, 1)").find("positive low bound") != std::string::npos);
    BOOST_TEST(eval_error("lgouniform(1, 2)").find("unknown function 'lgouniform'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(file_hashes_its_contents) {
    TempProject project;
    project.write("conda.yml", "name: a\n");
    project.write("t.py", "\n");
    auto result = project.compile("environment e1 { conda = file(\"conda.yml\") }\n"
                                  "experiment e { job j { script = \"t.py\", environment = e1 } }\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    auto conda = amlflow::testing::node(*result->plan, "environment:e1")->spec()["conda"];
    BOOST_TEST(conda["$path"] == "conda.yml");
    BOOST_TEST(conda["sha256"].get<std::string>().size() == 64u);
}

BOOST_AUTO_TEST_SUITE_END()
