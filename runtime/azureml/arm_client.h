// The resource manager as the Azure ML backend speaks it: JSON requests under one workspace
// with a bearer token (send_authorized: cached token, one renewal after a 401), transient
// faults retried (RetryingClient), and every error turned into one lowercase sentence with
// the service's own code and message and no secret in it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_endpoint.h"
#include "runtime/azureml/credentials.h"
#include "runtime/azureml/retrying.h"

namespace amlflow::runtime::azureml {

struct ArmAnswer {
    int status = 0;               // 0: no answer (see error)
    nlohmann::json body;          // parsed, or null
    Headers headers;
    std::string error;            // "" when status is 2xx
    bool throttled = false;       // some try was answered 429 (the caller may slow down)
    std::chrono::milliseconds retry_after{0};  // the longest wait a 429 asked for
    bool ok() const { return status >= 200 && status < 300; }
    const std::string* header(std::string_view name) const;
};

class ArmClient {
public:
    using Done = std::function<void(ArmAnswer)>;

    ArmClient(RetryingClient& client, DefaultCredential& credential, ArmEndpoint endpoint, WorkspaceRef workspace);

    // `path` under the resource manager (workspace_path(...) and friends); `body` sent as
    // JSON when not null. A POST is retried only when `idempotent_post`.
    void call(const std::string& method, const std::string& path, const nlohmann::json& body, Done done,
              std::string_view api_version = kArmApiVersion, std::string_view extra_query = {},
              bool idempotent_post = false);
    // GET of a whole URL the service handed out (a long-running operation's status, run
    // history): with the token when `authorized`.
    void get_url(const std::string& url, bool authorized, Done done);

    const WorkspaceRef& workspace() const { return workspace_; }
    const ArmEndpoint& endpoint() const { return endpoint_; }
    RetryingClient& client() { return client_; }
    DefaultCredential& credential() { return credential_; }
    // The workspace's resource id, as job bodies name their code, environment and compute.
    std::string id(const std::string& path_under_workspace = "") const;

private:
    void send(HttpRequest request, bool authorized, const RetryOptions& options, Done done);

    RetryingClient& client_;
    DefaultCredential& credential_;
    ArmEndpoint endpoint_;
    WorkspaceRef workspace_;
};

}  // namespace amlflow::runtime::azureml
