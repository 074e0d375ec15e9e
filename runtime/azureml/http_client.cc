#include "runtime/azureml/http_client.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

namespace amlflow::runtime::azureml {
std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

namespace {

std::string trimmed(std::string_view text) {
    size_t begin = 0, end = text.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    return std::string(text.substr(begin, end - begin));
}

bool loopback_host(const std::string& host) {
    std::string h = lowercase(host);
    if (h == "localhost" || h == "[::1]" || h == "::1") return true;
    // RFC 6761: libcurl answers *.localhost with loopback itself, never asking DNS.
    if (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0) return true;
    unsigned a, b, c, d;
    char extra;
    if (std::sscanf(h.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4) {
        return a == 127 && b < 256 && c < 256 && d < 256;
    }
    return false;
}

TransportError classify(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return TransportError::kConnect;
        case CURLE_OPERATION_TIMEDOUT:
            return TransportError::kTimeout;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return TransportError::kReset;
        default:
            return TransportError::kOther;
    }
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
    std::string wanted = lowercase(name);
    for (const auto& [key, value] : headers) {
        if (key == wanted) return &value;
    }
    return nullptr;
}

std::string HttpResponse::summary() const {
    switch (error) {
        case TransportError::kNone: return std::to_string(status);
        case TransportError::kRefusedUrl: return "refused (" + error_text + ")";
        case TransportError::kConnect: return "no connection (" + error_text + ")";
        case TransportError::kTimeout: return "timed out (" + error_text + ")";
        case TransportError::kReset: return "connection reset (" + error_text + ")";
        case TransportError::kFile: return "upload file unreadable (" + error_text + ")";
        case TransportError::kOther: return "failed (" + error_text + ")";
    }
    return error_text;
}

std::string redacted_url(std::string_view url) {
    size_t cut = url.find_first_of("?#");
    return std::string(url.substr(0, cut));
}

std::string percent_encode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string url_refusal(const std::string& url) {
    global_init();
    CURLU* parsed = curl_url();
    std::string problem;
    char* scheme = nullptr;
    char* host = nullptr;
    if (curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        problem = "'" + redacted_url(url) + "' is not a valid url";
    } else if (std::strcmp(scheme, "https") == 0) {
        problem = "";
    } else if (std::strcmp(scheme, "http") != 0) {
        problem = "'" + redacted_url(url) + "' uses scheme '" + scheme + "'; only https is spoken";
    } else if (!loopback_host(host) && std::strcmp(host, "169.254.169.254") != 0) {
        problem = "plain http to '" + std::string(host) +
                  "' is refused: only loopback hosts may be reached without https";
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(parsed);
    return problem;
}

struct HttpClient::Transfer {
    RequestId id = 0;
    CURL* easy = nullptr;
    HttpRequest request;
    HttpResponse response;
    Callback done;
    curl_slist* headers = nullptr;
    int file = -1;
    std::uint64_t sent = 0;
    bool file_failed = false;
    int out = -1;                  // the download target, once a 2xx answer began
    std::uint64_t out_at = 0;      // where the body's first byte goes in it
    bool decided = false, to_file = false, write_failed = false;
    int write_errno = 0;
    char error_buffer[CURL_ERROR_SIZE] = {0};

    ~Transfer() {
        if (headers) curl_slist_free_all(headers);
        if (easy) curl_easy_cleanup(easy);
        if (file >= 0) ::close(file);
        if (out >= 0) ::close(out);
    }

    // At the answer's first body bytes (or its end, for an empty one): a 2xx answer to a
    // download goes into the target file, cut where the body begins.
    void decide() {
        decided = true;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (!request.download || status < 200 || status >= 300) return;
        to_file = true;
        out_at = status == 206 ? request.download->offset : 0;
        out = ::open(request.download->path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (out < 0 || ::ftruncate(out, static_cast<off_t>(out_at)) != 0) {
            write_failed = true;
            write_errno = errno;
        }
    }

    static size_t on_body(char* data, size_t size, size_t count, void* self) {
        auto* t = static_cast<Transfer*>(self);
        size_t length = size * count;
        if (!t->decided) t->decide();
        if (!t->to_file) {
            t->response.body.append(data, length);
            return length;
        }
        for (size_t done = 0; done < length && !t->write_failed;) {
            ssize_t wrote = ::pwrite(t->out, data + done, length - done,
                                     static_cast<off_t>(t->out_at + t->response.written));
            if (wrote <= 0) {
                if (wrote < 0 && errno == EINTR) continue;
                t->write_failed = true;
                t->write_errno = wrote < 0 ? errno : ENOSPC;
                break;
            }
            done += static_cast<size_t>(wrote);
            t->response.written += static_cast<std::uint64_t>(wrote);
        }
        return t->write_failed ? 0 : length;  // 0 makes libcurl end the transfer
    }

    static size_t on_header(char* data, size_t size, size_t count, void* self) {
        auto* t = static_cast<Transfer*>(self);
        std::string_view line(data, size * count);
        if (line.rfind("HTTP/", 0) == 0) {
            t->response.headers.clear();  // a new answer (after 100 Continue)
        } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
            t->response.headers.emplace_back(lowercase(trimmed(line.substr(0, colon))),
                                             trimmed(line.substr(colon + 1)));
        }
        return size * count;
    }

    static size_t on_read(char* buffer, size_t size, size_t count, void* self) {
        auto* t = static_cast<Transfer*>(self);
        std::uint64_t left = t->request.upload->length - t->sent;
        size_t want = static_cast<size_t>(std::min<std::uint64_t>(left, size * count));
        if (want == 0) return 0;
        ssize_t got = ::pread(t->file, buffer, want, static_cast<off_t>(t->request.upload->offset + t->sent));
        if (got <= 0) {
            t->file_failed = true;
            return CURL_READFUNC_ABORT;
        }
        t->sent += static_cast<std::uint64_t>(got);
        return static_cast<size_t>(got);
    }
};

HttpClient::HttpClient(EventLoop& loop) : loop_(loop), alive_(std::make_shared<bool>(true)) {
    global_init();
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &HttpClient::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &HttpClient::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    multi_ = multi;
}

HttpClient::~HttpClient() {
    *alive_ = false;
    auto* multi = static_cast<CURLM*>(multi_);
    for (auto& [id, transfer] : transfers_) curl_multi_remove_handle(multi, transfer->easy);
    transfers_.clear();
    deferred_.clear();
    curl_multi_cleanup(multi);
    for (const auto& [fd, _] : watched_) loop_.unwatch(fd);
    if (timer_) loop_.cancel(timer_);
}

int HttpClient::on_socket(void*, int fd, int what, void* self, void*) {
    auto* client = static_cast<HttpClient*>(self);
    if (what == CURL_POLL_REMOVE) {
        client->loop_.unwatch(fd);
        client->watched_.erase(fd);
        return 0;
    }
    short events = 0;
    if (what & CURL_POLL_IN) events |= POLLIN;
    if (what & CURL_POLL_OUT) events |= POLLOUT;
    client->watched_[fd] = true;
    client->loop_.watch(fd, events, [client, fd](short revents) {
        int flags = 0;
        if (revents & (POLLIN | POLLHUP)) flags |= CURL_CSELECT_IN;
        if (revents & POLLOUT) flags |= CURL_CSELECT_OUT;
        if (revents & (POLLERR | POLLNVAL)) flags |= CURL_CSELECT_ERR;
        client->socket_action(fd, flags);
    });
    return 0;
}

int HttpClient::on_timer(void*, long timeout_ms, void* self) {
    auto* client = static_cast<HttpClient*>(self);
    if (client->timer_) client->loop_.cancel(client->timer_);
    client->timer_ = 0;
    if (timeout_ms < 0) return 0;
    // Never socket_action from inside libcurl's own callback: a loop timer, even for 0 ms.
    client->timer_ = client->loop_.after(std::chrono::milliseconds(timeout_ms), [client] {
        client->timer_ = 0;
        client->socket_action(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
}

void HttpClient::socket_action(int fd, int events) {
    int running = 0;
    curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, events, &running);
    collect_finished();
}

void HttpClient::collect_finished() {
    std::vector<std::unique_ptr<Transfer>> finished;
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        Transfer* raw = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &raw);
        CURLcode code = message->data.result;
        curl_multi_remove_handle(static_cast<CURLM*>(multi_), message->easy_handle);
        auto it = transfers_.find(raw->id);
        std::unique_ptr<Transfer> transfer = std::move(it->second);
        transfers_.erase(it);
        HttpResponse& response = transfer->response;
        if (code == CURLE_OK && !transfer->decided) transfer->decide();  // an empty body
        if (code == CURLE_OK && transfer->write_failed) code = CURLE_WRITE_ERROR;
        if (code == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
            response.status = static_cast<int>(status);
        } else {
            response.headers.clear();
            response.body.clear();
            bool file = transfer->file_failed || transfer->write_failed;
            response.error = file ? TransportError::kFile : classify(code);
            std::string text = transfer->error_buffer[0] ? transfer->error_buffer : curl_easy_strerror(code);
            if (transfer->file_failed) text = "cannot read '" + transfer->request.upload->path + "'";
            if (transfer->write_failed) text = "cannot write '" + transfer->request.download->path + "': " + std::strerror(transfer->write_errno);
            if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
            response.error_text = text;
        }
        finished.push_back(std::move(transfer));
    }
    std::weak_ptr<bool> alive = alive_;
    for (auto& transfer : finished) {
        if (alive.expired()) return;  // a callback destroyed the client
        transfer->done(std::move(transfer->response));
    }
}

void HttpClient::finish_later(std::unique_ptr<Transfer> transfer) {
    RequestId id = transfer->id;
    deferred_.emplace(id, std::move(transfer));
    std::weak_ptr<bool> alive = alive_;
    loop_.after(std::chrono::milliseconds(0), [this, alive, id] {
        if (alive.expired()) return;
        auto it = deferred_.find(id);
        if (it == deferred_.end()) return;  // cancelled
        std::unique_ptr<Transfer> held = std::move(it->second);
        deferred_.erase(it);
        held->done(std::move(held->response));
    });
}

bool HttpClient::configure(Transfer& t) {
    CURL* easy = t.easy;
    const HttpRequest& r = t.request;
    curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t.error_buffer);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "amlflow");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);

    bool has_content_type = false;
    for (const auto& [name, value] : r.headers) {
        if (lowercase(name) == "content-type") has_content_type = true;
        t.headers = curl_slist_append(t.headers, (name + ": " + value).c_str());
    }
    // No 100-continue round trip, and no Content-Type libcurl would pick on its own: a
    // Shared Key signature covers exactly the Content-Type the caller sent.
    t.headers = curl_slist_append(t.headers, "Expect:");
    if (!has_content_type) t.headers = curl_slist_append(t.headers, "Content-Type:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t.headers);

    if (r.upload) {
        t.file = ::open(r.upload->path.c_str(), O_RDONLY | O_CLOEXEC);
        if (t.file < 0) return false;
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Transfer::on_read);
        curl_easy_setopt(easy, CURLOPT_READDATA, &t);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.upload->length));
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    } else if (r.method == "GET" && r.body.empty()) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (r.method == "HEAD") {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (r.method == "DELETE" && r.body.empty()) {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t.request.body.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        if (r.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    return true;
}

HttpClient::RequestId HttpClient::send(HttpRequest request, Callback done) {
    auto transfer = std::make_unique<Transfer>();
    transfer->id = next_id_++;
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    RequestId id = transfer->id;
    if (std::string refusal = url_refusal(transfer->request.url); !refusal.empty()) {
        transfer->response.error = TransportError::kRefusedUrl;
        transfer->response.error_text = refusal;
        finish_later(std::move(transfer));
        return id;
    }
    transfer->easy = curl_easy_init();
    if (!configure(*transfer)) {
        transfer->response.error = TransportError::kFile;
        transfer->response.error_text = "cannot open '" + transfer->request.upload->path + "'";
        finish_later(std::move(transfer));
        return id;
    }
    curl_multi_add_handle(static_cast<CURLM*>(multi_), transfer->easy);
    transfers_.emplace(id, std::move(transfer));
    return id;
}

void HttpClient::cancel(RequestId id) {
    deferred_.erase(id);
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), it->second->easy);
    transfers_.erase(it);
}

}  // namespace amlflow::runtime::azureml
