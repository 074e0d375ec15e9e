#include "runtime/azureml/blob_storage.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <fstream>
#include <map>
#include <set>

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;

namespace {

std::string xml_unescape(std::string text) {
    static const std::pair<const char*, const char*> entities[] = {
        {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
    for (const auto& [from, to] : entities) {
        for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + 1)) {
            text.replace(at, std::string(from).size(), to);
        }
    }
    return text;
}

// Each <tag>text</tag> inside `xml`, in order, unescaped.
std::vector<std::string> xml_values(const std::string& xml, const std::string& tag, size_t from = 0,
                                    size_t to = std::string::npos) {
    std::vector<std::string> out;
    std::string open = "<" + tag + ">", close = "</" + tag + ">";
    for (size_t at = xml.find(open, from); at != std::string::npos && at < to; at = xml.find(open, at + 1)) {
        size_t end = xml.find(close, at);
        if (end == std::string::npos) break;
        out.push_back(xml_unescape(xml.substr(at + open.size(), end - at - open.size())));
    }
    return out;
}

HttpRequest request_for(std::string method, std::string url) {
    HttpRequest request;
    request.method = std::move(method);
    request.url = std::move(url);
    return request;
}

std::string joined(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "/" + name;
}

// Equal-length block ids, as the service requires: base64 of the block's index.
std::string block_id(std::uint64_t index) {
    char text[32];
    std::snprintf(text, sizeof text, "blk%08llu", static_cast<unsigned long long>(index));
    return base64_encode(text);
}

}  // namespace

std::string storage_error(const HttpRequest& request, const HttpResponse& response) {
    std::string text = describe_tries(request, response);
    auto code = xml_values(response.body, "Code");
    auto message = xml_values(response.body, "Message");
    if (!code.empty()) text += " (" + code[0] + (message.empty() ? "" : ": " + message[0].substr(0, message[0].find('\n'))) + ")";
    return text;
}

BlobStorage::BlobStorage(RetryingClient& client, BlobContainer container, BlobOptions options)
    : client_(client), container_(std::move(container)), options_(options) {}

// One upload: a queue of requests, at most `parallel` in flight, ended by the first error.
struct BlobStorage::Upload : std::enable_shared_from_this<Upload> {
    RetryingClient& client;
    BlobContainer container;
    BlobOptions options;
    Done done;
    TransferOutcome outcome;
    std::deque<std::function<void()>> queue;
    int active = 0, files_left = 0;
    bool finished = false;

    Upload(RetryingClient& c, BlobContainer b, BlobOptions o, Done d)
        : client(c), container(std::move(b)), options(o), done(std::move(d)) {}

    void fail(const std::string& error) {
        if (finished) return;
        finished = true;
        outcome.ok = false;
        outcome.error = error;
        queue.clear();
        done(outcome);
    }
    void file_done() {
        if (--files_left == 0 && !finished) {
            finished = true;
            done(outcome);
        }
    }
    void pump() {
        while (!finished && active < options.parallel && !queue.empty()) {
            auto task = std::move(queue.front());
            queue.pop_front();
            ++active;
            task();
        }
    }
    // Sends `request`; `then` runs on success, any failure ends the upload.
    void send(HttpRequest request, std::function<void(const HttpResponse&)> then) {
        authorize_blob_request(container, request);
        auto self = shared_from_this();
        client.send(request, [self, request, then](HttpResponse response) {
            --self->active;
            if (self->finished) return;
            if (!response.ok()) return self->fail(storage_error(request, response));
            then(response);
            self->pump();
        });
    }
    void put_blob(const UploadItem& item, std::uint64_t size) {
        HttpRequest request = request_for("PUT", container.blob_url(joined(container.prefix, item.relative)));
        request.headers = {{"x-ms-blob-type", "BlockBlob"}, {"Content-Type", "application/octet-stream"}};
        if (size > 0) request.upload = UploadRange{item.absolute.string(), 0, size};
        request.timeout = std::chrono::milliseconds(0);
        send(request, [this, size](const HttpResponse&) {
            outcome.bytes_sent += size;
            ++outcome.files_sent;
            file_done();
        });
    }
    void put_blocks(const UploadItem& item, std::uint64_t size) {
        std::string name = joined(container.prefix, item.relative);
        HttpRequest ask = request_for("GET", container.blob_url(name, "comp=blocklist&blocklisttype=uncommitted"));
        authorize_blob_request(container, ask);
        auto self = shared_from_this();
        client.send(ask, [self, item, size, name](HttpResponse response) {
            --self->active;
            if (self->finished) return;
            std::set<std::string> have;  // "<id>/<size>" of the blocks already there
            if (response.ok()) {
                auto names = xml_values(response.body, "Name");
                auto sizes = xml_values(response.body, "Size");
                for (size_t i = 0; i < names.size() && i < sizes.size(); ++i) have.insert(names[i] + "/" + sizes[i]);
            } else if (response.status != 404) {
                return self->fail(storage_error(request_for("GET", self->container.blob_url(name)), response));
            }
            self->queue_blocks(item, size, name, have);
            self->pump();
        });
    }
    void queue_blocks(const UploadItem& item, std::uint64_t size, const std::string& name,
                      const std::set<std::string>& have) {
        std::uint64_t count = (size + options.block_size - 1) / options.block_size;
        auto left = std::make_shared<std::uint64_t>(count);
        auto commit = [this, name, count, size] {
            std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
            for (std::uint64_t i = 0; i < count; ++i) xml += "<Latest>" + block_id(i) + "</Latest>";
            xml += "</BlockList>";
            HttpRequest request = request_for("PUT", container.blob_url(name, "comp=blocklist"));
            request.headers = {{"Content-Type", "application/xml"}, {"x-ms-blob-content-type", "application/octet-stream"}};
            request.body = xml;
            queue.push_front([this, request] {
                send(request, [this](const HttpResponse&) {
                    ++outcome.files_sent;
                    file_done();
                });
            });
        };
        for (std::uint64_t i = 0; i < count; ++i) {
            std::uint64_t offset = i * options.block_size, length = std::min(options.block_size, size - offset);
            if (have.count(block_id(i) + "/" + std::to_string(length))) {
                if (--*left == 0) commit();
                continue;
            }
            std::string id = percent_encode(block_id(i));
            HttpRequest request = request_for("PUT", container.blob_url(name, "comp=block&blockid=" + id));
            request.headers = {{"Content-Type", "application/octet-stream"}};
            request.upload = UploadRange{item.absolute.string(), offset, length};
            request.timeout = std::chrono::milliseconds(0);
            queue.push_back([this, request, left, length, commit] {
                send(request, [this, left, length, commit](const HttpResponse&) {
                    outcome.bytes_sent += length;
                    if (--*left == 0) commit();
                });
            });
        }
    }
};

void BlobStorage::upload(std::vector<UploadItem> files, Done done) {
    auto job = std::make_shared<Upload>(client_, container_, options_, std::move(done));
    if (files.empty()) {
        client_.loop().after(std::chrono::milliseconds(0), [job] { job->done(job->outcome); });
        return;
    }
    list(container_.prefix, [job, files](std::optional<std::vector<BlobEntry>> entries, std::string error) {
        if (!entries) return job->fail(error);
        std::map<std::string, std::uint64_t> there;
        for (const BlobEntry& entry : *entries) there[entry.name] = entry.size;
        job->files_left = static_cast<int>(files.size()) + 1;  // +1: held until all are queued
        for (const UploadItem& item : files) {
            std::error_code ec;
            std::uint64_t size = fs::file_size(item.absolute, ec);
            if (ec) return job->fail("cannot read '" + item.absolute.string() + "': " + ec.message());
            auto found = there.find(joined(job->container.prefix, item.relative));
            if (found != there.end() && found->second == size) {
                ++job->outcome.files_skipped;
                --job->files_left;
            } else if (size <= job->options.single_put_max || size == 0) {
                job->queue.push_back([job, item, size] { job->put_blob(item, size); });
            } else {
                job->queue.push_back([job, item, size] { job->put_blocks(item, size); });
            }
        }
        job->file_done();
        job->pump();
    });
}

void BlobStorage::list(const std::string& prefix,
                       std::function<void(std::optional<std::vector<BlobEntry>>, std::string)> done) {
    list_from(prefix.empty() ? "" : prefix + "/", std::move(done));
}

void BlobStorage::list_from(const std::string& raw,
                            std::function<void(std::optional<std::vector<BlobEntry>>, std::string)> done) {
    struct State {
        std::vector<BlobEntry> entries;
        std::function<void(const std::string&)> next;
    };
    auto state = std::make_shared<State>();
    RetryingClient& client = client_;
    BlobContainer container = container_;
    state->next = [state, &client, container, raw, done](const std::string& marker) {
        std::string query = "restype=container&comp=list&prefix=" + percent_encode(raw);
        if (!marker.empty()) query += "&marker=" + percent_encode(marker);
        HttpRequest request = request_for("GET", container.container_url(query));
        authorize_blob_request(container, request);
        client.send(request, [state, request, done](HttpResponse response) {
            if (response.status == 404) {  // no container: nothing under the prefix
                state->next = nullptr;
                return done(std::vector<BlobEntry>{}, "");
            }
            if (!response.ok()) {
                state->next = nullptr;
                return done(std::nullopt, storage_error(request, response));
            }
            const std::string& xml = response.body;
            for (size_t at = xml.find("<Blob>"); at != std::string::npos; at = xml.find("<Blob>", at + 1)) {
                size_t end = xml.find("</Blob>", at);
                auto names = xml_values(xml, "Name", at, end);
                auto sizes = xml_values(xml, "Content-Length", at, end);
                auto etags = xml_values(xml, "Etag", at, end);
                if (!names.empty()) {
                    state->entries.push_back({names[0], sizes.empty() ? 0 : std::stoull("0" + sizes[0]),
                                              etags.empty() ? "" : etags[0]});
                }
            }
            auto marker = xml_values(xml, "NextMarker");
            if (!marker.empty() && !marker[0].empty()) return state->next(marker[0]);
            auto next = std::move(state->next);  // breaks the cycle state -> next -> state
            done(std::move(state->entries), "");
        });
    };
    state->next("");
}

void BlobStorage::read_range(const std::string& blob, std::uint64_t offset, std::function<void(RangeRead)> done) {
    HttpRequest request = request_for("GET", container_.blob_url(blob));
    request.headers = {{"x-ms-range", "bytes=" + std::to_string(offset) + "-"}};
    authorize_blob_request(container_, request);
    client_.send(request, [request, offset, done](HttpResponse response) {
        RangeRead read;
        if (response.status == 416) {  // nothing past the offset yet
            read.ok = true;
        } else if (response.status == 206) {
            read.ok = true;
            read.bytes = std::move(response.body);
        } else if (response.status == 200) {  // the whole blob: keep what lies past the offset
            read.ok = true;
            if (response.body.size() > offset) read.bytes = response.body.substr(offset);
        } else {
            read.error = storage_error(request, response);
        }
        done(std::move(read));
    });
}

void BlobStorage::read_from(RetryingClient& client, const std::string& url, std::uint64_t offset,
                            std::function<void(RangeRead)> done) {
    std::string error;
    auto container = container_from_sas_url(url, &error);
    if (!container) {
        client.loop().after(std::chrono::milliseconds(0), [done, error] { done(RangeRead{false, "", error}); });
        return;
    }
    std::string blob = container->prefix;
    container->prefix.clear();
    BlobStorage(client, *container).read_range(blob, offset, std::move(done));
}

}  // namespace amlflow::runtime::azureml
