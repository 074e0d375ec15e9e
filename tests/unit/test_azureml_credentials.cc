// The credential chain against a real local token endpoint (tests/azureml/fake_service.py)
// and a fake `az` on PATH: the order of the sources, caching and early refresh, a forced
// refresh after a 401, the message when nothing works, and no secret in any message.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include <sys/stat.h>

#include "azureml_test_support.h"
#include "runtime/azureml/authorized_request.h"
#include "runtime/azureml/credentials.h"
#include "runtime/azureml/token_sources.h"
#include "test_support.h"

namespace az = amlflow::runtime::azureml;
using amlflow::runtime::EventLoop;
using amlflow::testing::fake_service;
using amlflow::testing::service_stats;

namespace {

const std::string kArmScope = "https://management.azure.com/.default";

struct Got {
    std::optional<az::AccessToken> token;
    std::string error;
};

Got get(EventLoop& loop, az::DefaultCredential& credential, const std::string& scope = kArmScope) {
    std::optional<Got> got;
    credential.get_token(scope, [&](std::optional<az::AccessToken> token, std::string error) {
        got = Got{std::move(token), std::move(error)};
    });
    loop.run_until([&] { return got.has_value(); });
    return *got;
}

// A folder with a fake `az` that logs its arguments and prints a token (or fails).
struct FakeCli {
    amlflow::testing::TempProject folder;
    std::filesystem::path log = folder.root() / "az.log";

    explicit FakeCli(bool logged_in = true) {
        long long expires = static_cast<long long>(std::time(nullptr)) + 3600;
        std::string answer = "{\"accessToken\": \"tok-cli-0123\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", "
                             "\"expires_on\": " + std::to_string(expires) + ", \"tokenType\": \"Bearer\"}";
        std::string script = "#!/bin/sh\necho \"$@\" >> '" + log.string() + "'\n/bin/cat <<'EOF'\n" + answer + "\nEOF\n";
        if (!logged_in) script += "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n";
        std::filesystem::path az = folder.write("bin/az", script);
        chmod(az.c_str(), 0755);
    }
    std::string path_entry() const { return "PATH=" + (folder.root() / "bin").string() + ":/nonexistent"; }
    int calls() const {
        std::ifstream in(log);
        int lines = 0;
        for (std::string line; std::getline(in, line);) ++lines;
        return lines;
    }
    std::string first_call() const {
        std::ifstream in(log);
        std::string line;
        std::getline(in, line);
        return line;
    }
};

// An environment whose IMDS is a closed loopback port and whose authority is the fake.
std::vector<std::string> environment(std::vector<std::string> extra) {
    std::vector<std::string> env = {
        "AZURE_AUTHORITY_HOST=" + fake_service().base(),
        "AMLFLOW_IMDS_ENDPOINT=http://127.0.0.1:" + std::to_string(amlflow::testing::closed_port()) + "/imds"};
    bool has_path = false;
    for (const std::string& e : extra) has_path = has_path || e.rfind("PATH=", 0) == 0;
    if (!has_path) env.push_back("PATH=/nonexistent");
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_credentials)

BOOST_AUTO_TEST_CASE(a_service_principal_token_is_cached_and_refreshed_on_demand) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    FakeCli cli;
    std::string tenant = amlflow::testing::fresh_key("tenant");
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment(
        {"AZURE_TENANT_ID=" + tenant, "AZURE_CLIENT_ID=app", "AZURE_CLIENT_SECRET=good-secret", cli.path_entry()})));
    Got first = get(loop, credential);
    BOOST_TEST_REQUIRE(first.token.has_value(), first.error);
    BOOST_TEST(first.token->token == "tok-" + tenant + "-1");
    BOOST_TEST(credential.source_name().find("environment service principal") == 0);
    nlohmann::json form = service_stats(loop, http, "token-" + tenant)["requests"][0]["form"];
    BOOST_TEST(form["scope"] == kArmScope);
    BOOST_TEST(form["grant_type"] == "client_credentials");
    BOOST_TEST(form["client_id"] == "app");

    BOOST_TEST(get(loop, credential).token->token == first.token->token);  // cached
    // Two callers at once share one request.
    int answers = 0;
    credential.invalidate(kArmScope);
    for (int i = 0; i < 2; ++i) {
        credential.get_token(kArmScope, [&](std::optional<az::AccessToken> token, std::string) {
            BOOST_TEST(token->token == "tok-" + tenant + "-2");
            ++answers;
        });
    }
    loop.run_until([&] { return answers == 2; });
    // Another scope is another token.
    BOOST_TEST(get(loop, credential, "https://storage.azure.com/.default").token->token == "tok-" + tenant + "-3");
    BOOST_TEST(service_stats(loop, http, "token-" + tenant)["count"] == 3);
    BOOST_TEST(cli.calls() == 0);  // the chain stopped at the first source that worked
}

BOOST_AUTO_TEST_CASE(a_token_about_to_expire_is_fetched_again) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment(
        {"AZURE_TENANT_ID=short", "AZURE_CLIENT_ID=app", "AZURE_CLIENT_SECRET=good-secret"})));
    std::string first = get(loop, credential).token->token;
    BOOST_TEST(get(loop, credential).token->token == first);
    // A 2 s token is refreshed half way through its life.
    loop.run_until([] { return false; }, EventLoop::Clock::now() + std::chrono::milliseconds(1100));
    std::string second = get(loop, credential).token->token;
    BOOST_TEST(second != first);
}

BOOST_AUTO_TEST_CASE(a_wrong_secret_ends_the_chain_and_never_shows_the_secret) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    FakeCli cli;
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment(
        {"AZURE_TENANT_ID=t1", "AZURE_CLIENT_ID=app", "AZURE_CLIENT_SECRET=wrong-secret-s3cr3t", cli.path_entry()})));
    Got got = get(loop, credential);
    BOOST_TEST(!got.token.has_value());
    BOOST_TEST(got.error.find("environment service principal") != std::string::npos, got.error);
    BOOST_TEST(got.error.find("answered 401 (invalid_client: AADSTS7000215") != std::string::npos, got.error);
    BOOST_TEST(got.error.find("wrong-secret-s3cr3t") == std::string::npos, got.error);
    BOOST_TEST(got.error.find("Trace ID") == std::string::npos, got.error);  // first line only
    BOOST_TEST(cli.calls() == 0);
}

BOOST_AUTO_TEST_CASE(the_azure_cli_is_the_last_resort_and_its_token_is_cached) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    FakeCli cli;
    // AZURE_CLIENT_ID alone (a user-assigned identity's id) sets up no principal.
    az::DefaultCredential credential(
        client, az::CredentialOptions::from_environment(environment({"AZURE_CLIENT_ID=app", cli.path_entry()})));
    Got got = get(loop, credential);
    BOOST_TEST_REQUIRE(got.token.has_value(), got.error);
    BOOST_TEST(got.token->token == "tok-cli-0123");
    BOOST_TEST(credential.source_name().find("azure cli") == 0);
    BOOST_TEST(cli.first_call() == "account get-access-token --resource https://management.azure.com/ -o json");
    BOOST_TEST(get(loop, credential).token->token == "tok-cli-0123");
    BOOST_TEST(cli.calls() == 1);
    credential.invalidate(kArmScope);
    BOOST_TEST(get(loop, credential).token.has_value());
    BOOST_TEST(cli.calls() == 2);
}

BOOST_AUTO_TEST_CASE(workload_identity_comes_before_managed_identity_and_the_cli) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    FakeCli cli;
    amlflow::testing::TempProject folder;
    std::filesystem::path assertion = folder.write("token", "federated-assertion\n");
    std::string tenant = amlflow::testing::fresh_key("wi");
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment(
        {"AZURE_TENANT_ID=" + tenant, "AZURE_CLIENT_ID=app", "AZURE_FEDERATED_TOKEN_FILE=" + assertion.string(),
         cli.path_entry()})));
    Got got = get(loop, credential);
    BOOST_TEST_REQUIRE(got.token.has_value(), got.error);
    BOOST_TEST(got.token->token == "tok-" + tenant + "-1");
    BOOST_TEST(credential.source_name().find("workload identity") == 0);
    nlohmann::json form = service_stats(loop, http, "token-" + tenant)["requests"][0]["form"];
    BOOST_TEST(form["client_assertion"] == "federated-assertion");
    BOOST_TEST(form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    BOOST_TEST(cli.calls() == 0);
}

BOOST_AUTO_TEST_CASE(managed_identity_speaks_to_the_metadata_service) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    FakeCli cli;
    std::vector<std::string> env = environment({cli.path_entry()});
    env.push_back("AMLFLOW_IMDS_ENDPOINT=" + fake_service().base() + "/imds");  // the later one wins
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(env));
    Got got = get(loop, credential);
    BOOST_TEST_REQUIRE(got.token.has_value(), got.error);
    BOOST_TEST(got.token->token == "tok-imds");
    nlohmann::json seen = service_stats(loop, http, "imds")["requests"].back();
    BOOST_TEST(seen["query"]["resource"] == "https://management.azure.com/");
    BOOST_TEST(seen["query"]["api-version"] == "2018-02-01");
    BOOST_TEST(cli.calls() == 0);
}

BOOST_AUTO_TEST_CASE(when_nothing_works_one_message_lists_every_source_in_order) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment({})));
    Got got = get(loop, credential);
    BOOST_TEST(!got.token.has_value());
    const std::string& e = got.error;
    BOOST_TEST(e.find("no azure credential worked; tried, in order:") == 0, e);
    size_t sp = e.find("- environment service principal"), wi = e.find("- workload identity"),
           mi = e.find("- managed identity"), cli = e.find("- azure cli");
    BOOST_TEST_REQUIRE((sp != std::string::npos && wi != std::string::npos && mi != std::string::npos &&
                        cli != std::string::npos), e);
    BOOST_TEST((sp < wi && wi < mi && mi < cli), e);
    BOOST_TEST(e.find("AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET are not set") != std::string::npos, e);
    BOOST_TEST(e.find("within 1000 ms") != std::string::npos, e);
    BOOST_TEST(e.find("install the Azure CLI and run 'az login'") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(a_failing_cli_shows_its_complaint_but_not_its_output) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    FakeCli cli(false);
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment({cli.path_entry()})));
    Got got = get(loop, credential);
    BOOST_TEST(!got.token.has_value());
    BOOST_TEST(got.error.find("'az' failed with exit code 1: ERROR: Please run 'az login'") != std::string::npos,
               got.error);
    BOOST_TEST(got.error.find("tok-cli-0123") == std::string::npos, got.error);
}

BOOST_AUTO_TEST_CASE(a_401_renews_the_token_once_and_only_once) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    std::string tenant = amlflow::testing::fresh_key("renew");
    az::DefaultCredential credential(client, az::CredentialOptions::from_environment(environment(
        {"AZURE_TENANT_ID=" + tenant, "AZURE_CLIENT_ID=app", "AZURE_CLIENT_SECRET=good-secret"})));
    auto send = [&](const std::string& key, const std::string& accept) {
        az::HttpRequest request;
        request.url = fake_service().base() + "/auth/" + key + "?accept=" + accept;
        std::optional<az::HttpResponse> got;
        az::send_authorized(client, credential, kArmScope, request, az::RetryOptions{},
                            [&](az::HttpResponse r) { got = std::move(r); });
        loop.run_until([&] { return got.has_value(); });
        return *got;
    };
    // The service takes only the second token: the first 401 renews it.
    std::string key = amlflow::testing::fresh_key("auth");
    BOOST_TEST(send(key, "tok-" + tenant + "-2").status == 200);
    BOOST_TEST(service_stats(loop, http, key)["count"] == 2);
    BOOST_TEST(service_stats(loop, http, "token-" + tenant)["count"] == 2);
    // A service that never accepts gets one renewal, then its 401 goes back to the caller.
    key = amlflow::testing::fresh_key("auth");
    BOOST_TEST(send(key, "never").status == 401);
    BOOST_TEST(service_stats(loop, http, key)["count"] == 2);
    BOOST_TEST(service_stats(loop, http, "token-" + tenant)["count"] == 3);
}

BOOST_AUTO_TEST_CASE(token_answers_in_each_shape) {
    auto now = std::chrono::system_clock::from_time_t(1700000000);
    auto oauth = az::parse_token_answer(R"({"access_token":"a","expires_in":3599})", now);
    BOOST_TEST_REQUIRE(oauth.has_value());
    BOOST_TEST((oauth->expires_on == now + std::chrono::seconds(3599)));
    auto imds = az::parse_token_answer(R"({"access_token":"b","expires_in":"60"})", now);
    BOOST_TEST((imds->expires_on == now + std::chrono::seconds(60)));
    auto app_service = az::parse_token_answer(R"({"access_token":"c","expires_on":"1700000100"})", now);
    BOOST_TEST((app_service->expires_on == std::chrono::system_clock::from_time_t(1700000100)));
    auto cli = az::parse_token_answer(R"({"accessToken":"d","expiresOn":"2030-01-02 03:04:05.000000"})", now);
    BOOST_TEST_REQUIRE(cli.has_value());
    BOOST_TEST(cli->token == "d");
    BOOST_TEST(!az::parse_token_answer(R"({"expires_in":5})", now).has_value());
    BOOST_TEST(!az::parse_token_answer("not json", now).has_value());
    BOOST_TEST(az::scope_to_resource(kArmScope) == "https://management.azure.com/");
}

BOOST_AUTO_TEST_SUITE_END()
