// HTTP for the Azure ML backend: libcurl's multi interface driven by the runtime's one
// EventLoop, so no request ever blocks supervision (DESIGN §3, issue 18).
//
// libcurl tells us, through CURLMOPT_SOCKETFUNCTION, which sockets to watch (its threaded
// resolver's pipe included) and, through CURLMOPT_TIMERFUNCTION, when it next needs a call;
// both become EventLoop watches and timers, and each readiness is handed back with
// curl_multi_socket_action. Nothing here waits: send() returns at once and the callback
// runs later from the loop, never inside send().
//
// Plain `http://` is refused except for loopback hosts (127.0.0.0/8, ::1, localhost and
// *.localhost, which libcurl resolves to loopback itself) and the instance metadata
// service's link-local 169.254.169.254; everything else must be `https://`. Redirects are
// not followed (the resource manager's `Location` answers are for polling, not for
// following). Messages never contain a URL's query, where storage SAS tokens live.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/core/event_loop.h"

namespace amlflow::runtime::azureml {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A byte range of a local file sent as the request body (block uploads).
struct UploadRange {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

// Where a download's answer goes (HttpRequest::download): written into `path` as it arrives,
// so a large blob never sits whole in memory. The file is created when the first bytes of a
// 2xx answer come, cut to `offset` and written from there: the bytes before `offset` are
// those a ranged request (a resumed download) did not ask for again. A 200 to a request
// with `offset` > 0 (the server sent the whole blob) is written from the file's start.
struct DownloadTarget {
    std::string path;
    std::uint64_t offset = 0;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    Headers headers;       // sent as given; no Content-Type is added when none is given
    std::string body;      // ignored when `upload` is set
    std::optional<UploadRange> upload;
    std::optional<DownloadTarget> download;  // a 2xx answer's body goes there, not into `body`
    std::chrono::milliseconds timeout{30000};          // the whole exchange; 0: no limit
    std::chrono::milliseconds connect_timeout{10000};  // reaching the host
};

// Why no HTTP answer came.
enum class TransportError {
    kNone,
    kRefusedUrl,  // the URL broke the scheme rule or could not be parsed; nothing was sent
    kConnect,     // could not connect (or resolve): nothing was sent
    kTimeout,     // the request's timeout passed
    kReset,       // the connection broke or closed without an answer
    kFile,        // the upload's file could not be read, or the download's written
    kOther,       // TLS and everything else libcurl reports
};

struct HttpResponse {
    int status = 0;        // 0 when no answer came
    Headers headers;       // names lowercased, in the order received
    std::string body;      // with a download target: only a non-2xx answer's body
    std::uint64_t written = 0;  // bytes of the body written to the download target
    TransportError error = TransportError::kNone;
    std::string error_text;  // one lowercase phrase when error != kNone
    // Filled in by RetryingClient: how many requests it took and what each got.
    int tries = 1;
    std::vector<std::string> history;

    // The first header of that name (any case), or nullptr.
    const std::string* header(std::string_view name) const;
    bool answered() const { return error == TransportError::kNone; }
    bool ok() const { return answered() && status >= 200 && status < 300; }
    // "503", "connection reset (...)": what this one exchange got, for messages.
    std::string summary() const;
};

// "" when `url` may be requested, else why not (one lowercase sentence).
std::string url_refusal(const std::string& url);
// The URL without its query and fragment (a SAS token must never reach a message).
std::string redacted_url(std::string_view url);

// ASCII lower case (header names, hosts, query keys).
std::string lowercase(std::string_view text);
// Percent-encodes everything but RFC 3986's unreserved characters.
std::string percent_encode(std::string_view text);

class HttpClient {
public:
    using RequestId = std::uint64_t;
    using Callback = std::function<void(HttpResponse)>;

    explicit HttpClient(EventLoop& loop);
    // Requests still in flight are dropped without their callbacks running. The loop must
    // outlive the client.
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Starts the request; `done` runs once, from the loop, with the answer or the reason
    // there was none. Never calls `done` before returning.
    RequestId send(HttpRequest request, Callback done);
    // Drops a request: its callback never runs. No-op for an unknown or finished id.
    void cancel(RequestId id);
    std::size_t in_flight() const { return transfers_.size(); }

    EventLoop& loop() { return loop_; }

private:
    struct Transfer;
    static int on_socket(void* easy, int fd, int what, void* self, void* socket_data);
    static int on_timer(void* multi, long timeout_ms, void* self);
    void socket_action(int fd, int events);
    void collect_finished();
    void finish_later(std::unique_ptr<Transfer> transfer);
    bool configure(Transfer& transfer);

    EventLoop& loop_;
    void* multi_ = nullptr;  // CURLM*, kept out of this header
    EventLoop::TimerId timer_ = 0;
    std::unordered_map<RequestId, std::unique_ptr<Transfer>> transfers_;
    std::unordered_map<RequestId, std::unique_ptr<Transfer>> deferred_;  // answered without curl
    std::unordered_map<int, bool> watched_;  // fds this client asked the loop to watch
    RequestId next_id_ = 1;
    std::shared_ptr<bool> alive_;  // expires with the client: loop timers and callbacks check it
};

}  // namespace amlflow::runtime::azureml
