// Tokens for the resource manager and storage, found the way azure-identity's
// DefaultAzureCredential finds them (issue 18 item 1), in its order:
//   1. a service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
//      (client credentials at AZURE_AUTHORITY_HOST, default https://login.microsoftonline.com);
//   2. workload identity: AZURE_FEDERATED_TOKEN_FILE's token as a client assertion;
//   3. managed identity: IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service style), else the
//      instance metadata service, whose first request waits at most 1 s so a laptop does
//      not wait for an address nobody answers;
//   4. the Azure CLI: `az account get-access-token --resource ... -o json`, run through
//      core/process without blocking the loop.
// A source that is not set up here ("unavailable") passes to the next; one that is set up
// but fails (a wrong secret) ends the search, as DefaultAzureCredential does. The first that
// gives a token is kept for every later token. Tokens are cached per scope and fetched
// again 5 minutes before they expire (or half way, for short-lived ones).
//
// Secrets and tokens never reach a message: every text a source returns is scrubbed of the
// client secret, the federated assertion and every token seen.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/azureml/retrying.h"

namespace amlflow::runtime::azureml {

struct AccessToken {
    std::string token;
    std::chrono::system_clock::time_point expires_on;
};

// Where each source looks, read from an environment (tests pass their own).
struct CredentialOptions {
    std::string tenant_id;             // AZURE_TENANT_ID
    std::string client_id;             // AZURE_CLIENT_ID (also a user-assigned identity's id)
    std::string client_secret;         // AZURE_CLIENT_SECRET
    std::string authority_host = "https://login.microsoftonline.com";  // AZURE_AUTHORITY_HOST
    std::string federated_token_file;  // AZURE_FEDERATED_TOKEN_FILE
    std::string identity_endpoint;     // IDENTITY_ENDPOINT
    std::string identity_header;       // IDENTITY_HEADER
    // AMLFLOW_IMDS_ENDPOINT overrides it (tests point it at a closed loopback port).
    std::string imds_endpoint = "http://169.254.169.254/metadata/identity/oauth2/token";
    std::chrono::milliseconds imds_probe_timeout{1000};
    std::chrono::milliseconds cli_timeout{30000};
    std::vector<std::string> process_env;  // the Azure CLI's environment ("NAME=value", with PATH)

    static CredentialOptions from_environment(const std::vector<std::string>& env);
    static CredentialOptions from_process_environment();
};

// What one source made of a request for a token.
struct TokenResult {
    std::optional<AccessToken> token;
    bool unavailable = false;  // not set up here: the chain goes on to the next source
    std::string message;       // why not (lowercase), when there is no token
    std::string fix;           // how to set this source up, when unavailable
};

class TokenSource {
public:
    using Done = std::function<void(TokenResult)>;
    virtual ~TokenSource() = default;
    virtual std::string name() const = 0;
    // Asks for a token for `scope` ("https://management.azure.com/.default"); `done` runs
    // from the loop, never before this returns.
    virtual void get_token(const std::string& scope, Done done) = 0;
};

class DefaultCredential {
public:
    using Done = std::function<void(std::optional<AccessToken> token, std::string error)>;

    // The four sources above, in that order.
    DefaultCredential(RetryingClient& client, CredentialOptions options);
    // Any sources, in the order given (tests).
    DefaultCredential(EventLoop& loop, std::vector<std::unique_ptr<TokenSource>> sources,
                      std::vector<std::string> secrets);
    ~DefaultCredential();

    // A token for `scope`, from the cache when it is not about to expire. `done` runs from
    // the loop. Concurrent requests for one scope share one fetch. The error lists every
    // source tried, what it said and how to set it up.
    void get_token(const std::string& scope, Done done);
    // Forgets the cached token of `scope`: call after a 401, then get_token once more.
    void invalidate(const std::string& scope);
    // The source that gave the tokens so far, or "" before the first.
    std::string source_name() const;

    // `text` with every secret and token known to this credential replaced by "***".
    std::string scrub(std::string text) const;

private:
    struct Entry;
    void fetch(const std::string& scope);
    void try_source(const std::string& scope, size_t index, std::shared_ptr<std::vector<std::string>> tried);
    void settle(const std::string& scope, std::optional<AccessToken> token, const std::string& error);

    EventLoop& loop_;
    std::vector<std::unique_ptr<TokenSource>> sources_;
    std::vector<std::string> secrets_;
    std::optional<size_t> chosen_;
    std::map<std::string, std::unique_ptr<Entry>> cache_;
    std::shared_ptr<bool> alive_;
};

// "https://management.azure.com/.default" -> "https://management.azure.com/" (the Azure CLI
// and managed identity speak resources, not scopes).
std::string scope_to_resource(const std::string& scope);

}  // namespace amlflow::runtime::azureml
