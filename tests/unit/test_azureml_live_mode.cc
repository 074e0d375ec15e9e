// The Azure ML end-to-end tests' choice between the emulator and a real workspace
// (tests/unit/azureml_live_mode.h): nothing changes without AMLFLOW_AZUREML_LIVE.
#include <boost/test/unit_test.hpp>

#include "tests/unit/azureml_live_mode.h"

using amlflow::testing::decide_live_mode;

namespace {

std::function<const char*(const char*)> from(std::map<std::string, std::string> vars) {
    auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
    return [shared](const char* name) -> const char* {
        auto found = shared->find(name);
        return found == shared->end() ? nullptr : found->second.c_str();
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_live_mode)

BOOST_AUTO_TEST_CASE(the_emulator_unless_live_mode_is_asked_for) {
    std::map<std::string, std::string> workspace = {{"AZURE_SUBSCRIPTION_ID", "s"}, {"AZURE_RESOURCE_GROUP", "g"},
                                                    {"AZUREML_WORKSPACE", "w"}, {"AMLFLOW_AZUREML_LIVE_COMPUTE", "cpu"}};
    BOOST_TEST(!decide_live_mode(from(workspace)).live);  // a workspace set up is not enough
    for (const char* off : {"", "0"}) {
        auto vars = workspace;
        vars["AMLFLOW_AZUREML_LIVE"] = off;
        BOOST_TEST(!decide_live_mode(from(vars)).live);
    }
    auto vars = workspace;
    vars["AMLFLOW_AZUREML_LIVE"] = "1";
    vars["AZURE_CLIENT_SECRET"] = "x";
    auto mode = decide_live_mode(from(vars));
    BOOST_TEST(mode.live);
    BOOST_TEST(mode.problem.empty());
    BOOST_TEST(mode.compute == "cpu");
    BOOST_TEST(mode.vars["AZUREML_WORKSPACE"] == "w");
    BOOST_TEST(mode.vars["AZURE_CLIENT_SECRET"] == "x");
    BOOST_TEST(!mode.vars.count("AZURE_CLIENT_ID"));
}

BOOST_AUTO_TEST_CASE(live_mode_without_its_variables_says_what_is_missing) {
    auto mode = decide_live_mode(from({{"AMLFLOW_AZUREML_LIVE", "1"}, {"AZURE_SUBSCRIPTION_ID", "s"},
                                       {"AZURE_RESOURCE_GROUP", "g"}, {"AZUREML_WORKSPACE", "w"}}));
    BOOST_TEST(mode.live);
    BOOST_TEST(mode.problem == "AMLFLOW_AZUREML_LIVE is set but AMLFLOW_AZUREML_LIVE_COMPUTE is not: set them to a "
                               "workspace and a compute cluster you may run jobs on");
    mode = decide_live_mode(from({{"AMLFLOW_AZUREML_LIVE", "yes"}}));
    BOOST_TEST(mode.problem.find("AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE, "
                                 "AMLFLOW_AZUREML_LIVE_COMPUTE are not") != std::string::npos, mode.problem);
}

BOOST_AUTO_TEST_SUITE_END()
