#include "runtime/azureml/token_sources.h"

#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace amlflow::runtime::azureml {
namespace {

using Clock = std::chrono::system_clock;
using nlohmann::json;

std::optional<long long> number_in(const json& value) {
    if (value.is_number_integer()) return value.get<long long>();
    if (value.is_number()) return static_cast<long long>(value.get<double>());
    if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        if (text.empty() || text.size() > 15) return std::nullopt;
        for (char c : text) {
            if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        }
        return std::stoll(text);
    }
    return std::nullopt;
}

// The Azure CLI's older "expiresOn": local time, "2024-01-31 12:00:00.000000".
std::optional<Clock::time_point> local_time(const std::string& text) {
    std::tm parts{};
    if (!strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &parts)) return std::nullopt;
    parts.tm_isdst = -1;
    time_t seconds = std::mktime(&parts);
    if (seconds == static_cast<time_t>(-1)) return std::nullopt;
    return Clock::from_time_t(seconds);
}

std::string form_field(const std::string& name, const std::string& value) {
    return name + "=" + percent_encode(value);
}

std::string scrubbed(std::string text, const std::vector<std::string>& secrets) {
    for (const std::string& secret : secrets) {
        if (secret.size() < 4) continue;
        for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
            text.replace(at, secret.size(), "***");
        }
    }
    return text;
}

// The identity service's own words: `error` and the first line of `error_description`.
std::string service_words(const HttpResponse& response) {
    json body = json::parse(response.body, nullptr, false);
    std::string words;
    if (body.is_object()) {
        if (body.contains("error") && body["error"].is_string()) words = body["error"].get<std::string>();
        if (body.contains("error_description") && body["error_description"].is_string()) {
            std::string text = body["error_description"].get<std::string>();
            text = text.substr(0, text.find_first_of("\r\n"));
            words += (words.empty() ? "" : ": ") + text;
        }
    }
    return words.empty() ? "" : " (" + words + ")";
}

void later(EventLoop& loop, TokenSource::Done done, TokenResult result) {
    loop.after(std::chrono::milliseconds(0), [done = std::move(done), result = std::move(result)] { done(result); });
}

TokenResult unavailable(std::string message, std::string fix) {
    TokenResult result;
    result.unavailable = true;
    result.message = std::move(message);
    result.fix = std::move(fix);
    return result;
}

TokenResult failed(std::string message) {
    TokenResult result;
    result.message = std::move(message);
    return result;
}

// The answer of an OAuth token endpoint as a source's result; `secrets` are kept out of it.
TokenResult token_result(const HttpRequest& request, const HttpResponse& response,
                         const std::vector<std::string>& secrets) {
    if (response.ok()) {
        if (auto token = parse_token_answer(response.body, Clock::now())) return TokenResult{token, false, "", ""};
        return failed("the token endpoint " + redacted_url(request.url) + " answered without a token");
    }
    if (!response.answered()) return failed(scrubbed(describe_tries(request, response), secrets));
    return failed(scrubbed("the token endpoint " + redacted_url(request.url) + " answered " +
                               std::to_string(response.status) + service_words(response), secrets));
}

bool tenant_shaped(const std::string& tenant) {
    for (char c : tenant) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
    }
    return !tenant.empty();
}

// Client credentials at the authority: a secret or a federated assertion.
class ClientCredentialsSource : public TokenSource {
public:
    ClientCredentialsSource(RetryingClient& client, CredentialOptions options, bool federated)
        : client_(client), options_(std::move(options)), federated_(federated) {}

    std::string name() const override {
        return federated_ ? "workload identity (AZURE_FEDERATED_TOKEN_FILE)"
                          : "environment service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)";
    }

    void get_token(const std::string& scope, Done done) override {
        std::string missing = missing_settings();
        if (!missing.empty()) {
            later(client_.loop(), std::move(done),
                  unavailable(missing + (missing.find(',') != std::string::npos ? " are" : " is") + " not set",
                              federated_ ? "set by a Kubernetes workload identity; set AZURE_FEDERATED_TOKEN_FILE, "
                                           "AZURE_CLIENT_ID and AZURE_TENANT_ID to use one"
                                         : "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to a service "
                                           "principal's to use one"));
            return;
        }
        if (!tenant_shaped(options_.tenant_id)) {
            later(client_.loop(), std::move(done), failed("AZURE_TENANT_ID is not a tenant id or domain"));
            return;
        }
        std::vector<std::string> secrets;
        HttpRequest request;
        request.method = "POST";
        request.url = options_.authority_host + "/" + options_.tenant_id + "/oauth2/v2.0/token";
        request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
        request.body = form_field("grant_type", "client_credentials") + "&" + form_field("client_id", options_.client_id) +
                       "&" + form_field("scope", scope) + "&";
        if (federated_) {
            std::ifstream in(options_.federated_token_file, std::ios::binary);
            std::stringstream text;
            text << in.rdbuf();
            std::string assertion = text.str();
            while (!assertion.empty() && std::isspace(static_cast<unsigned char>(assertion.back()))) assertion.pop_back();
            if (!in || assertion.empty()) {
                later(client_.loop(), std::move(done),
                      failed("cannot read the federated token file '" + options_.federated_token_file + "'"));
                return;
            }
            secrets.push_back(assertion);
            request.body += form_field("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
                            "&" + form_field("client_assertion", assertion);
        } else {
            secrets.push_back(options_.client_secret);
            request.body += form_field("client_secret", options_.client_secret);
        }
        RetryOptions retry;
        retry.idempotent_post = true;  // asking for a token twice is harmless
        HttpRequest sent = request;
        sent.body.clear();
        client_.send(std::move(request), retry, [sent, secrets, done = std::move(done)](HttpResponse response) {
            done(token_result(sent, response, secrets));
        });
    }

private:
    std::string missing_settings() const {
        std::string missing;
        auto need = [&](const std::string& value, const char* name) {
            if (value.empty()) missing += (missing.empty() ? "" : ", ") + std::string(name);
        };
        need(options_.tenant_id, "AZURE_TENANT_ID");
        need(options_.client_id, "AZURE_CLIENT_ID");
        need(federated_ ? options_.federated_token_file : options_.client_secret,
             federated_ ? "AZURE_FEDERATED_TOKEN_FILE" : "AZURE_CLIENT_SECRET");
        return missing;
    }

    RetryingClient& client_;
    CredentialOptions options_;
    bool federated_;
};

// The instance metadata service, or App Service's IDENTITY_ENDPOINT. The first request is
// the probe: one try, at most imds_probe_timeout; once something answered, later requests
// get the usual timeout and retries.
class ManagedIdentitySource : public TokenSource {
public:
    ManagedIdentitySource(RetryingClient& client, CredentialOptions options)
        : client_(client), options_(std::move(options)) {}

    std::string name() const override { return "managed identity"; }

    void get_token(const std::string& scope, Done done) override {
        bool app_service = !options_.identity_endpoint.empty() && !options_.identity_header.empty();
        std::string resource = percent_encode(scope_to_resource(scope));
        HttpRequest request;
        if (app_service) {
            request.url = options_.identity_endpoint + "?api-version=2019-08-01&resource=" + resource;
            request.headers = {{"X-IDENTITY-HEADER", options_.identity_header}};
        } else {
            request.url = options_.imds_endpoint + "?api-version=2018-02-01&resource=" + resource;
            request.headers = {{"Metadata", "true"}};
        }
        if (!options_.client_id.empty()) request.url += "&client_id=" + percent_encode(options_.client_id);
        RetryOptions retry;
        if (!*answered_once_) {
            retry.max_tries = 1;
            request.timeout = options_.imds_probe_timeout;
            request.connect_timeout = options_.imds_probe_timeout;
        }
        std::vector<std::string> secrets = {options_.identity_header};
        HttpRequest sent = request;
        // Copies only: the answer may come after this source is gone.
        client_.send(std::move(request), retry,
                     [answered_once = answered_once_, probe = options_.imds_probe_timeout, sent, secrets,
                      done = std::move(done)](HttpResponse response) {
            if (!response.answered() && !*answered_once) {
                done(unavailable("nothing answered at " + redacted_url(sent.url) + " within " +
                                     std::to_string(probe.count()) + " ms (" + response.error_text + ")",
                                 "only Azure VMs, App Service, AKS and the like have a managed identity"));
                return;
            }
            *answered_once = *answered_once || response.answered();
            if (response.status == 400 || response.status == 404) {
                done(unavailable("the identity endpoint has no identity for this machine" + service_words(response),
                                 "assign a managed identity to the machine, or set AZURE_CLIENT_ID to the one to use"));
                return;
            }
            done(token_result(sent, response, secrets));
        });
    }

private:
    RetryingClient& client_;
    CredentialOptions options_;
    std::shared_ptr<bool> answered_once_ = std::make_shared<bool>(false);
};

}  // namespace

std::optional<AccessToken> parse_token_answer(const std::string& body, Clock::time_point now) {
    json answer = json::parse(body, nullptr, false);
    if (!answer.is_object()) return std::nullopt;
    AccessToken token;
    for (const char* key : {"access_token", "accessToken"}) {
        if (answer.contains(key) && answer[key].is_string()) token.token = answer[key].get<std::string>();
    }
    if (token.token.empty()) return std::nullopt;
    if (answer.contains("expires_in")) {
        if (auto seconds = number_in(answer["expires_in"])) {
            token.expires_on = now + std::chrono::seconds(*seconds);
            return token;
        }
    }
    if (answer.contains("expires_on")) {
        if (auto epoch = number_in(answer["expires_on"])) {
            token.expires_on = Clock::from_time_t(static_cast<time_t>(*epoch));
            return token;
        }
    }
    if (answer.contains("expiresOn") && answer["expiresOn"].is_string()) {
        if (auto when = local_time(answer["expiresOn"].get<std::string>())) {
            token.expires_on = *when;
            return token;
        }
    }
    return std::nullopt;
}

std::unique_ptr<TokenSource> environment_source(RetryingClient& client, const CredentialOptions& options) {
    return std::make_unique<ClientCredentialsSource>(client, options, false);
}

std::unique_ptr<TokenSource> workload_identity_source(RetryingClient& client, const CredentialOptions& options) {
    return std::make_unique<ClientCredentialsSource>(client, options, true);
}

std::unique_ptr<TokenSource> managed_identity_source(RetryingClient& client, const CredentialOptions& options) {
    return std::make_unique<ManagedIdentitySource>(client, options);
}

}  // namespace amlflow::runtime::azureml
