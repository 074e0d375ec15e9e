#include "runtime/azureml/credentials.h"

#include <algorithm>

#include "runtime/azureml/token_sources.h"

extern char** environ;

namespace amlflow::runtime::azureml {
namespace {

using Clock = std::chrono::system_clock;

// The early refresh: 5 minutes, or half the lifetime of a token that lives less than 10.
bool fresh(const AccessToken& token, Clock::time_point obtained, Clock::time_point now) {
    auto lifetime = token.expires_on - obtained;
    auto margin = std::min<Clock::duration>(std::chrono::minutes(5), lifetime / 2);
    return now < token.expires_on - margin;
}

}  // namespace

std::string scope_to_resource(const std::string& scope) {
    const std::string suffix = ".default";
    if (scope.size() > suffix.size() && scope.compare(scope.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return scope.substr(0, scope.size() - suffix.size());
    }
    return scope;
}

CredentialOptions CredentialOptions::from_environment(const std::vector<std::string>& env) {
    std::map<std::string, std::string> vars;
    for (const std::string& entry : env) {
        size_t eq = entry.find('=');
        if (eq != std::string::npos) vars[entry.substr(0, eq)] = entry.substr(eq + 1);  // the last one wins
    }
    auto get = [&](const char* name) {
        auto it = vars.find(name);
        return it == vars.end() ? std::string() : it->second;
    };
    CredentialOptions options;
    options.tenant_id = get("AZURE_TENANT_ID");
    options.client_id = get("AZURE_CLIENT_ID");
    options.client_secret = get("AZURE_CLIENT_SECRET");
    if (std::string host = get("AZURE_AUTHORITY_HOST"); !host.empty()) options.authority_host = host;
    while (!options.authority_host.empty() && options.authority_host.back() == '/') options.authority_host.pop_back();
    options.federated_token_file = get("AZURE_FEDERATED_TOKEN_FILE");
    options.identity_endpoint = get("IDENTITY_ENDPOINT");
    options.identity_header = get("IDENTITY_HEADER");
    if (std::string imds = get("AMLFLOW_IMDS_ENDPOINT"); !imds.empty()) options.imds_endpoint = imds;
    options.process_env = env;
    return options;
}

CredentialOptions CredentialOptions::from_process_environment() {
    std::vector<std::string> env;
    for (char** entry = environ; entry && *entry; ++entry) env.emplace_back(*entry);
    return from_environment(env);
}

struct DefaultCredential::Entry {
    std::optional<AccessToken> token;
    Clock::time_point obtained;
    bool fetching = false;
    std::vector<Done> waiters;
};

DefaultCredential::DefaultCredential(RetryingClient& client, CredentialOptions options)
    : loop_(client.loop()), alive_(std::make_shared<bool>(true)) {
    sources_.push_back(environment_source(client, options));
    sources_.push_back(workload_identity_source(client, options));
    sources_.push_back(managed_identity_source(client, options));
    sources_.push_back(azure_cli_source(client.loop(), options));
    if (!options.client_secret.empty()) secrets_.push_back(options.client_secret);
}

DefaultCredential::DefaultCredential(EventLoop& loop, std::vector<std::unique_ptr<TokenSource>> sources,
                                     std::vector<std::string> secrets)
    : loop_(loop), sources_(std::move(sources)), secrets_(std::move(secrets)), alive_(std::make_shared<bool>(true)) {}

DefaultCredential::~DefaultCredential() = default;

std::string DefaultCredential::scrub(std::string text) const {
    for (const std::string& secret : secrets_) {
        if (secret.size() < 4) continue;  // too short to tell from ordinary words
        for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
            text.replace(at, secret.size(), "***");
        }
    }
    return text;
}

std::string DefaultCredential::source_name() const { return chosen_ ? sources_[*chosen_]->name() : ""; }

void DefaultCredential::get_token(const std::string& scope, Done done) {
    std::unique_ptr<Entry>& slot = cache_[scope];
    if (!slot) slot = std::make_unique<Entry>();
    Entry& entry = *slot;
    if (entry.token && fresh(*entry.token, entry.obtained, Clock::now())) {
        AccessToken token = *entry.token;
        std::weak_ptr<bool> alive = alive_;
        loop_.after(std::chrono::milliseconds(0), [alive, token, done = std::move(done)] {
            if (!alive.expired()) done(token, "");
        });
        return;
    }
    entry.waiters.push_back(std::move(done));
    if (!entry.fetching) fetch(scope);
}

void DefaultCredential::invalidate(const std::string& scope) {
    auto it = cache_.find(scope);
    if (it != cache_.end()) it->second->token.reset();
}

void DefaultCredential::fetch(const std::string& scope) {
    cache_[scope]->fetching = true;
    if (!chosen_) {
        try_source(scope, 0, std::make_shared<std::vector<std::string>>());
        return;
    }
    // Once a source worked, it alone is asked, as DefaultAzureCredential does.
    size_t index = *chosen_;
    std::weak_ptr<bool> alive = alive_;
    sources_[index]->get_token(scope, [this, alive, scope, index](TokenResult result) {
        if (alive.expired()) return;
        if (result.token) {
            secrets_.push_back(result.token->token);
            settle(scope, result.token, "");
        } else {
            settle(scope, std::nullopt, "azure authentication failed: " + sources_[index]->name() + ": " + result.message);
        }
    });
}

void DefaultCredential::try_source(const std::string& scope, size_t index,
                                   std::shared_ptr<std::vector<std::string>> tried) {
    if (index == sources_.size()) {
        std::string error = "no azure credential worked; tried, in order:";
        for (const std::string& line : *tried) error += "\n  - " + line;
        settle(scope, std::nullopt, error);
        return;
    }
    std::weak_ptr<bool> alive = alive_;
    sources_[index]->get_token(scope, [this, alive, scope, index, tried](TokenResult result) {
        if (alive.expired()) return;
        const std::string name = sources_[index]->name();
        if (result.token) {
            chosen_ = index;
            secrets_.push_back(result.token->token);
            settle(scope, result.token, "");
        } else if (result.unavailable) {
            tried->push_back(name + ": " + result.message + (result.fix.empty() ? "" : "; " + result.fix));
            try_source(scope, index + 1, tried);
        } else {
            std::string error = "azure authentication failed: " + name + ": " + result.message;
            if (!tried->empty()) {
                error += "\n(tried before it:";
                for (const std::string& line : *tried) error += "\n  - " + line;
                error += ")";
            }
            settle(scope, std::nullopt, error);
        }
    });
}

void DefaultCredential::settle(const std::string& scope, std::optional<AccessToken> token, const std::string& error) {
    Entry& entry = *cache_[scope];
    entry.fetching = false;
    if (token) {
        entry.token = token;
        entry.obtained = Clock::now();
    }
    std::vector<Done> waiters = std::move(entry.waiters);
    entry.waiters.clear();
    std::string message = scrub(error);
    std::weak_ptr<bool> alive = alive_;
    for (Done& done : waiters) {
        if (alive.expired()) return;
        done(token, message);
    }
}

}  // namespace amlflow::runtime::azureml
