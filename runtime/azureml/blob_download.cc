// BlobStorage's downloads (blob_storage.h): streamed to disk through partial files named by
// the blob's ETag, `parallel` at once, resumed from what a partial file already holds.
#include <deque>
#include <fstream>
#include <set>

#include "runtime/azureml/blob_storage.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;

fs::path partial_download_path(const fs::path& target, const std::string& etag) {
    std::string tag;
    for (char c : etag) {
        if (std::isalnum(static_cast<unsigned char>(c)) && tag.size() < 40) tag += c;
    }
    return target.string() + ".amlflow-part-" + (tag.empty() ? "none" : tag);
}

namespace {

constexpr const char* kPartMark = ".amlflow-part-";

// Partial files under `folder` (its own files only, unless `recursive`): a download keeps
// those it resumes and removes the rest once it ended well.
std::set<fs::path> partial_files(const fs::path& folder, bool recursive) {
    std::set<fs::path> found;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return found;
    auto note = [&found](const fs::directory_entry& entry) {
        if (entry.path().filename().string().find(kPartMark) != std::string::npos) found.insert(entry.path());
    };
    if (recursive) {
        for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            note(*it);
        }
    } else {
        for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
            note(*it);
        }
    }
    return found;
}

std::uint64_t size_of(const fs::path& file) {
    std::error_code ec;
    std::uint64_t size = fs::file_size(file, ec);
    return ec ? 0 : size;
}

}  // namespace

// One download: every blob fetched (`parallel` at once), streamed into its partial file and
// renamed into place when whole.
struct BlobStorage::Download : std::enable_shared_from_this<Download> {
    struct Item {
        BlobEntry blob;
        fs::path target;
        int restarts = 0;  // requests after the first: resumed or started over
    };
    static constexpr int kMaxRestarts = 8;

    RetryingClient& client;
    BlobContainer container;
    int parallel = 8;
    Done done;
    TransferOutcome outcome;
    std::deque<Item> queue;
    std::set<fs::path> leftovers;  // partial files found before: removed at a good end unless resumed
    int active = 0;
    bool finished = false;

    Download(RetryingClient& c, BlobContainer b, int p, Done d)
        : client(c), container(std::move(b)), parallel(p), done(std::move(d)) {}

    void end(const std::string& error) {
        if (finished) return;
        finished = true;
        if (!error.empty()) {
            outcome.ok = false;
            outcome.error = error;
        } else {
            std::error_code ec;
            for (const fs::path& stale : leftovers) fs::remove(stale, ec);
        }
        done(outcome);
    }
    void pump() {
        if (finished) return;
        if (queue.empty() && active == 0) return end("");
        while (active < parallel && !queue.empty()) {
            Item item = std::move(queue.front());
            queue.pop_front();
            ++active;
            start(std::move(item));
        }
    }
    void start(Item item) {
        fs::path part = partial_download_path(item.target, item.blob.etag);
        leftovers.erase(part);
        std::error_code ec;
        fs::create_directories(item.target.parent_path(), ec);
        std::uint64_t have = size_of(part);
        if (have > item.blob.size) {
            fs::remove(part, ec);
            have = 0;
        }
        if (item.restarts == 0) outcome.bytes_resumed += have;
        if (have == item.blob.size) return loop_later(std::move(item), part);
        HttpRequest request;
        request.url = container.blob_url(item.blob.name);
        request.timeout = std::chrono::milliseconds(0);
        request.download = DownloadTarget{part.string(), have};
        if (have > 0) {
            request.headers.emplace_back("x-ms-range", "bytes=" + std::to_string(have) + "-");
            // The listing gives the ETag bare; the header carries it quoted, as HTTP has it.
            const std::string& etag = item.blob.etag;
            if (!etag.empty()) request.headers.emplace_back("If-Match", etag.front() == '"' ? etag : "\"" + etag + "\"");
        }
        authorize_blob_request(container, request);
        auto self = shared_from_this();
        client.send(request, [self, request, item, part, have](HttpResponse response) {
            self->answered(request, response, item, part, have);
        });
    }
    // A blob already whole in its partial file (or empty): placed from the loop, not inside pump.
    void loop_later(Item item, fs::path part) {
        auto self = shared_from_this();
        client.loop().after(std::chrono::milliseconds(0), [self, item, part] {
            --self->active;
            self->place(item, part);
        });
    }
    void answered(const HttpRequest& request, const HttpResponse& response, Item item, const fs::path& part,
                  std::uint64_t have) {
        --active;
        if (finished) return;
        outcome.bytes_received += response.written;
        std::error_code ec;
        if (response.ok()) return place(std::move(item), part);
        bool changed = response.status == 412 || response.status == 416;  // the blob is not what the part holds
        bool progressed = size_of(part) > have;
        if ((changed || (transient(response) && progressed)) && item.restarts < kMaxRestarts) {
            if (changed) fs::remove(part, ec);
            ++item.restarts;
            queue.push_front(std::move(item));
            return pump();
        }
        end(storage_error(request, response));
    }
    void place(Item item, const fs::path& part) {
        if (finished) return;
        std::error_code ec;
        if (item.blob.size == 0 && !fs::exists(part, ec)) std::ofstream(part, std::ios::binary);
        std::uint64_t got = size_of(part);
        if (got != item.blob.size) {
            if (got < item.blob.size && item.restarts < kMaxRestarts) {  // the answer ended early: ask for the rest
                ++item.restarts;
                queue.push_front(std::move(item));
                return pump();
            }
            return end("blob '" + item.blob.name + "' came with " + std::to_string(got) + " of its " +
                       std::to_string(item.blob.size) + " bytes");
        }
        fs::rename(part, item.target, ec);
        if (ec) return end("cannot write '" + item.target.string() + "': " + ec.message());
        ++outcome.files_sent;
        pump();
    }
};

namespace {

// `relative` below `folder`, or nullopt when it would leave it.
std::optional<fs::path> confined(const fs::path& folder, const std::string& relative) {
    fs::path root = folder.lexically_normal();
    fs::path target = (root / relative).lexically_normal();
    fs::path inner = target.lexically_relative(root);
    if (relative.empty() || inner.empty() || inner.native().rfind("..", 0) == 0) return std::nullopt;
    return target;
}

}  // namespace

void BlobStorage::download(const std::string& prefix, const fs::path& folder, Done done) {
    auto job = std::make_shared<Download>(client_, container_, options_.parallel, std::move(done));
    std::string base = prefix.empty() ? "" : prefix + "/";
    list(prefix, [job, base, folder](std::optional<std::vector<BlobEntry>> entries, std::string error) {
        if (!entries) return job->end(error);
        job->leftovers = partial_files(folder, true);
        for (const BlobEntry& entry : *entries) {
            auto target = confined(folder, entry.name.substr(base.size()));
            if (!target) return job->end("blob '" + entry.name + "' would be written outside '" + folder.string() + "'");
            job->queue.push_back({entry, *target});
        }
        job->pump();
    });
}

void BlobStorage::fetch(const std::string& path, const fs::path& to, Done done) {
    auto job = std::make_shared<Download>(client_, container_, options_.parallel, std::move(done));
    std::string shown = container_.container + "/" + path;
    list_from(path, [job, path, to, shown](std::optional<std::vector<BlobEntry>> entries, std::string error) {
        if (!entries) return job->end(error);
        for (const BlobEntry& entry : *entries) {
            if (entry.name != path) continue;
            std::string mine = to.filename().string() + kPartMark;
            for (const fs::path& part : partial_files(to.parent_path(), false)) {
                if (part.filename().string().rfind(mine, 0) == 0) job->leftovers.insert(part);
            }
            job->queue.push_back({entry, to});
            return job->pump();
        }
        job->leftovers = partial_files(to, true);
        for (const BlobEntry& entry : *entries) {
            if (entry.name.compare(0, path.size() + 1, path + "/") != 0) continue;
            auto target = confined(to, entry.name.substr(path.size() + 1));
            if (!target) return job->end("blob '" + entry.name + "' would be written outside '" + to.string() + "'");
            job->queue.push_back({entry, *target});
        }
        if (job->queue.empty()) return job->end("nothing is stored at '" + shown + "'");
        job->pump();
    });
}

}  // namespace amlflow::runtime::azureml
