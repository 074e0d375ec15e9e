#include "runtime/azureml/authorized_request.h"

#include <memory>

namespace amlflow::runtime::azureml {
namespace {

struct Exchange {
    RetryingClient& client;
    DefaultCredential& credential;
    std::string scope;
    HttpRequest request;
    RetryOptions options;
    HttpClient::Callback done;
    bool renewed = false;
};

void send_with_token(const std::shared_ptr<Exchange>& exchange) {
    exchange->credential.get_token(exchange->scope, [exchange](std::optional<AccessToken> token, std::string error) {
        if (!token) {
            HttpResponse response;
            response.error = TransportError::kOther;
            response.error_text = error;
            exchange->done(std::move(response));
            return;
        }
        HttpRequest request = exchange->request;
        request.headers.emplace_back("Authorization", "Bearer " + token->token);
        exchange->client.send(std::move(request), exchange->options, [exchange](HttpResponse response) {
            if (response.status == 401 && !exchange->renewed) {
                exchange->renewed = true;
                exchange->credential.invalidate(exchange->scope);
                send_with_token(exchange);
                return;
            }
            exchange->done(std::move(response));
        });
    });
}

}  // namespace

void send_authorized(RetryingClient& client, DefaultCredential& credential, const std::string& scope,
                     HttpRequest request, const RetryOptions& options, HttpClient::Callback done) {
    auto exchange = std::make_shared<Exchange>(
        Exchange{client, credential, scope, std::move(request), options, std::move(done), false});
    send_with_token(exchange);
}

}  // namespace amlflow::runtime::azureml
