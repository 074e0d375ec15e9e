#include "runtime/azureml/retrying.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>

namespace amlflow::runtime::azureml {
namespace {

using std::chrono::milliseconds;

std::optional<long long> whole_number(const std::string& text) {
    if (text.empty() || text.size() > 15) return std::nullopt;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    return std::stoll(text);
}

// RFC 7231's IMF-fixdate, the only date form servers send today.
std::optional<std::chrono::system_clock::time_point> http_date(const std::string& text) {
    std::tm parts{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &parts);
    if (!end) return std::nullopt;
    time_t seconds = timegm(&parts);
    if (seconds == static_cast<time_t>(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(seconds);
}

std::string seconds_text(milliseconds wait) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(wait.count()) / 1000.0);
    return text;
}

}  // namespace

bool transient(const HttpResponse& response) {
    switch (response.error) {
        case TransportError::kConnect:
        case TransportError::kTimeout:
        case TransportError::kReset:
            return true;
        case TransportError::kNone:
            break;
        default:
            return false;
    }
    int s = response.status;
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

bool repeatable(const std::string& method, const RetryOptions& options) {
    if (method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE") return true;
    return method == "POST" && options.idempotent_post;
}

std::optional<milliseconds> server_retry_after(const HttpResponse& response,
                                               std::chrono::system_clock::time_point now) {
    for (const char* name : {"retry-after-ms", "x-ms-retry-after-ms"}) {
        if (const std::string* value = response.header(name)) {
            if (auto ms = whole_number(*value)) return milliseconds(*ms);
        }
    }
    const std::string* value = response.header("retry-after");
    if (!value) return std::nullopt;
    if (auto seconds = whole_number(*value)) return milliseconds(*seconds * 1000);
    if (auto when = http_date(*value)) {
        auto wait = std::chrono::duration_cast<milliseconds>(*when - now);
        return std::max(wait, milliseconds(0));
    }
    return std::nullopt;
}

milliseconds backoff_delay(int retry, const RetryOptions& options, std::mt19937_64& random) {
    long long ceiling = options.base_delay.count();
    for (int i = 1; i < retry && ceiling < options.max_delay.count(); ++i) ceiling *= 2;
    ceiling = std::min(ceiling, static_cast<long long>(options.max_delay.count()));
    std::uniform_int_distribution<long long> pick(0, std::max(ceiling, 0LL));
    return milliseconds(pick(random));
}

std::string describe_tries(const HttpRequest& request, const HttpResponse& response) {
    std::string text = request.method + " " + redacted_url(request.url) + ": ";
    if (response.history.empty()) return text + response.summary();
    if (response.history.size() == 1) return text + response.history[0];
    text += std::to_string(response.history.size()) + " tries: ";
    for (size_t i = 0; i < response.history.size(); ++i) {
        if (i) text += ", ";
        text += response.history[i];
    }
    return text;
}

RetryingClient::RetryingClient(HttpClient& http, RetryOptions defaults)
    : http_(http), defaults_(defaults), random_(std::random_device{}()) {}

RetryingClient::~RetryingClient() {
    for (auto& [id, p] : pending_) {
        if (p.current) http_.cancel(p.current);
        if (p.wait) http_.loop().cancel(p.wait);
    }
}

RetryingClient::RequestId RetryingClient::send(HttpRequest request, Callback done) {
    return send(std::move(request), defaults_, std::move(done));
}

RetryingClient::RequestId RetryingClient::send(HttpRequest request, const RetryOptions& options,
                                               Callback done) {
    RequestId id = next_id_++;
    Pending& p = pending_[id];
    p.request = std::move(request);
    p.options = options;
    p.done = std::move(done);
    attempt(id);
    return id;
}

void RetryingClient::cancel(RequestId id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    if (it->second.current) http_.cancel(it->second.current);
    if (it->second.wait) http_.loop().cancel(it->second.wait);
    pending_.erase(it);
}

void RetryingClient::attempt(RequestId id) {
    Pending& p = pending_.at(id);
    p.wait = 0;
    ++p.tries;
    p.current = http_.send(p.request, [this, id](HttpResponse response) { answered(id, std::move(response)); });
}

void RetryingClient::answered(RequestId id, HttpResponse response) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    p.current = 0;
    std::string entry = response.summary();
    bool retry = transient(response) && p.tries < p.options.max_tries &&
                 (repeatable(p.request.method, p.options) || response.error == TransportError::kConnect);
    std::optional<milliseconds> asked = server_retry_after(response, std::chrono::system_clock::now());
    milliseconds wait = asked ? *asked : backoff_delay(p.tries, p.options, random_);
    if (retry && asked && *asked > p.options.max_retry_after) {
        entry += " (the server asked to wait " + seconds_text(*asked) + ", longer than " +
                 seconds_text(p.options.max_retry_after) + ")";
        retry = false;
    } else if (retry) {
        entry += asked ? " (retried after " + seconds_text(wait) + " as asked)" : "";
    } else if (transient(response) && p.tries < p.options.max_tries) {
        entry += " (not retried: " + p.request.method + " may have taken effect)";
    }
    p.history.push_back(entry);
    if (retry) {
        p.wait = http_.loop().after(wait, [this, id] { attempt(id); });
        return;
    }
    response.tries = p.tries;
    response.history = std::move(p.history);
    Callback done = std::move(p.done);
    pending_.erase(it);
    done(std::move(response));
}

}  // namespace amlflow::runtime::azureml
