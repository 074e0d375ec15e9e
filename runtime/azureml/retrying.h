// Transient faults of the service, retried the way the Azure SDKs do (NOTES "Retries"):
// 408, 429, 500, 502, 503, 504, and connections that fail, break or time out, with
// exponential backoff and full jitter, honouring the server's `retry-after-ms`,
// `x-ms-retry-after-ms` and `Retry-After` (seconds or an HTTP date).
//
// Only requests that are safe to repeat are retried: GET, HEAD, PUT, DELETE (a job PUT is,
// since its name is chosen by the client), and a POST only when the caller marks it
// idempotent by design. A refused connection sent nothing, so it is retried for any method.
// The waits are EventLoop timers; nothing sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>

#include "runtime/azureml/http_client.h"

namespace amlflow::runtime::azureml {

struct RetryOptions {
    int max_tries = 5;                                  // the first request included
    std::chrono::milliseconds base_delay{800};          // azure-core's backoff factor
    std::chrono::milliseconds max_delay{60000};         // cap of the computed backoff
    std::chrono::milliseconds max_retry_after{120000};  // a longer server wait ends the tries
    bool idempotent_post = false;
};

// Whether this answer is a transient fault (status or transport error).
bool transient(const HttpResponse& response);
// Whether `method` may be sent again after a fault that may have reached the server.
bool repeatable(const std::string& method, const RetryOptions& options);
// The wait the server asked for, if any: retry-after-ms, x-ms-retry-after-ms, then
// Retry-After as seconds or as an HTTP date (relative to `now`). Negative waits become 0.
std::optional<std::chrono::milliseconds> server_retry_after(
    const HttpResponse& response, std::chrono::system_clock::time_point now);
// Full jitter: uniform in [0, min(max_delay, base_delay * 2^(retry - 1))], retry >= 1.
std::chrono::milliseconds backoff_delay(int retry, const RetryOptions& options, std::mt19937_64& random);

// One line for an error: the method, the URL without its query, and each try's answer,
// e.g. "GET https://host/path: 3 tries, each failed: 503, 503, connection reset (...)".
std::string describe_tries(const HttpRequest& request, const HttpResponse& response);

class RetryingClient {
public:
    using RequestId = std::uint64_t;
    using Callback = HttpClient::Callback;

    RetryingClient(HttpClient& http, RetryOptions defaults = {});
    ~RetryingClient();
    RetryingClient(const RetryingClient&) = delete;
    RetryingClient& operator=(const RetryingClient&) = delete;

    // Sends `request`, retrying under `options` (the defaults when not given). `done` gets
    // the last answer with `tries` and `history` filled in; runs from the loop.
    RequestId send(HttpRequest request, Callback done);
    RequestId send(HttpRequest request, const RetryOptions& options, Callback done);
    // Drops the request (its current try or its wait); its callback never runs.
    void cancel(RequestId id);

    HttpClient& http() { return http_; }
    EventLoop& loop() { return http_.loop(); }

private:
    struct Pending {
        HttpRequest request;
        RetryOptions options;
        Callback done;
        int tries = 0;
        std::vector<std::string> history;
        HttpClient::RequestId current = 0;
        EventLoop::TimerId wait = 0;
    };
    void attempt(RequestId id);
    void answered(RequestId id, HttpResponse response);

    HttpClient& http_;
    RetryOptions defaults_;
    std::mt19937_64 random_;
    std::unordered_map<RequestId, Pending> pending_;
    RequestId next_id_ = 1;
};

}  // namespace amlflow::runtime::azureml
