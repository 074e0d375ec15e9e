// A request with a bearer token: the token from DefaultCredential (cached), the request
// through RetryingClient, and on a 401 one fresh token and one more send, never more (an
// expired or revoked token is renewed; a principal without access gets its 401 back).
#pragma once

#include <functional>
#include <string>

#include "runtime/azureml/credentials.h"
#include "runtime/azureml/retrying.h"

namespace amlflow::runtime::azureml {

// `done` gets the answer, or, when no token could be had, a response with no status and
// error kOther whose error_text is the credential's message (secrets scrubbed).
void send_authorized(RetryingClient& client, DefaultCredential& credential, const std::string& scope,
                     HttpRequest request, const RetryOptions& options, HttpClient::Callback done);

}  // namespace amlflow::runtime::azureml
