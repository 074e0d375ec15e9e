#include "runtime/azureml/arm_client.h"

#include "runtime/azureml/authorized_request.h"

namespace amlflow::runtime::azureml {

const std::string* ArmAnswer::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
            return &value;
        }
    }
    return nullptr;
}

ArmClient::ArmClient(RetryingClient& client, DefaultCredential& credential, ArmEndpoint endpoint, WorkspaceRef workspace)
    : client_(client), credential_(credential), endpoint_(std::move(endpoint)), workspace_(std::move(workspace)) {}

std::string ArmClient::id(const std::string& path_under_workspace) const {
    return workspace_path(workspace_) + path_under_workspace;
}

void ArmClient::call(const std::string& method, const std::string& path, const nlohmann::json& body, Done done,
                     std::string_view api_version, std::string_view extra_query, bool idempotent_post) {
    HttpRequest request;
    request.method = method;
    request.url = endpoint_.url(path, api_version, extra_query);
    if (!body.is_null()) {
        request.headers.emplace_back("Content-Type", "application/json");
        request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    RetryOptions options;
    options.idempotent_post = idempotent_post;
    send(std::move(request), true, options, std::move(done));
}

void ArmClient::get_url(const std::string& url, bool authorized, Done done) {
    HttpRequest request;
    request.url = url;
    send(std::move(request), authorized, RetryOptions{}, std::move(done));
}

void ArmClient::send(HttpRequest request, bool authorized, const RetryOptions& options, Done done) {
    HttpRequest shown = request;
    DefaultCredential* credential = &credential_;
    auto answered = [shown, credential, done](HttpResponse response) {
        ArmAnswer answer;
        answer.status = response.answered() ? response.status : 0;
        answer.headers = response.headers;
        answer.throttled = response.status == 429;
        for (const std::string& try_text : response.history) answer.throttled |= try_text.rfind("429", 0) == 0;
        if (answer.throttled) {
            auto wait = server_retry_after(response, std::chrono::system_clock::now());
            if (wait) answer.retry_after = *wait;
        }
        answer.body = nlohmann::json::parse(response.body, nullptr, false);
        if (answer.body.is_discarded()) answer.body = nullptr;
        if (!answer.ok()) {
            std::string text = response.answered() ? describe_tries(shown, response) : response.error_text;
            if (answer.body.is_object() && answer.body.contains("error") && answer.body["error"].is_object()) {
                const auto& error = answer.body["error"];
                text += ": " + error.value("code", std::string()) + ": " + error.value("message", std::string());
            }
            answer.error = credential->scrub(text);
        }
        done(std::move(answer));
    };
    if (authorized) {
        send_authorized(client_, credential_, endpoint_.scope(), std::move(request), options, answered);
    } else {
        client_.send(std::move(request), options, answered);
    }
}

}  // namespace amlflow::runtime::azureml
