// The four sources of DefaultCredential (credentials.h), each on its own: a service
// principal's secret, a workload identity's federated token, a managed identity, the
// Azure CLI. Each answers through the loop; none blocks it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "runtime/azureml/credentials.h"

namespace amlflow::runtime::azureml {

std::unique_ptr<TokenSource> environment_source(RetryingClient& client, const CredentialOptions& options);
std::unique_ptr<TokenSource> workload_identity_source(RetryingClient& client, const CredentialOptions& options);
std::unique_ptr<TokenSource> managed_identity_source(RetryingClient& client, const CredentialOptions& options);
std::unique_ptr<TokenSource> azure_cli_source(EventLoop& loop, const CredentialOptions& options);

// An OAuth token answer: `access_token` with `expires_in` (seconds from `now`, a number or
// a string as IMDS sends it) or `expires_on` (epoch seconds, App Service). Also the Azure
// CLI's `accessToken` with `expires_on` or `expiresOn` ("YYYY-MM-DD hh:mm:ss[.ffffff]" in
// local time). nullopt when the body is none of those.
std::optional<AccessToken> parse_token_answer(const std::string& body, std::chrono::system_clock::time_point now);

}  // namespace amlflow::runtime::azureml
