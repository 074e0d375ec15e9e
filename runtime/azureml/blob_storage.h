// A blob container's folders over the Blob REST API (NOTES "Azure Blob REST"): a local
// folder's files uploaded under a prefix, a prefix downloaded into a folder, a blob read from
// a byte offset (logs that grow). Every request goes through RetryingClient on the loop.
//
// Uploads run up to `parallel` requests at once. A file up to `single_put_max` bytes is one
// Put Blob; a larger one is cut into `block_size` blocks (Put Block, in parallel) committed
// with one Put Block List. An upload cut off half way resumes without sending again what
// arrived: one List of the prefix first skips the blobs already there with the same size,
// and a large blob's Get Block List skips the blocks already uploaded but not yet committed
// (block ids are the block's index, so the same file cuts the same way).
//
// Downloads are streamed: each blob's bytes go to disk as they arrive (HttpClient's
// download target), `parallel` blobs at once, so memory stays small whatever the size. A
// blob is written into a partial file beside its target, named by the blob's ETag, and
// renamed into place when whole; a download cut off (a broken connection, amlflow killed)
// resumes from the bytes the partial file holds, asking only for the rest (a Range read
// under If-Match on the ETag, so a blob that changed meanwhile starts over).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/azureml/blob_auth.h"
#include "runtime/azureml/retrying.h"

namespace amlflow::runtime::azureml {

struct BlobOptions {
    int parallel = 8;
    std::uint64_t single_put_max = 32ull << 20;
    std::uint64_t block_size = 8ull << 20;
};

struct UploadItem {
    std::filesystem::path absolute;  // read from here
    std::string relative;            // '/'-separated name under the prefix
};

struct TransferOutcome {
    bool ok = true;
    std::string error;               // one lowercase sentence, no SAS or key in it
    int files_sent = 0;              // blobs written (upload) or read (download)
    int files_skipped = 0;           // already there (upload)
    std::uint64_t bytes_sent = 0;    // bytes on the wire in request bodies (upload)
    std::uint64_t bytes_received = 0;  // bytes written from answers (download)
    std::uint64_t bytes_resumed = 0;   // bytes already in partial files, not asked for again
};

struct BlobEntry {
    std::string name;                // the full name in the container
    std::uint64_t size = 0;
    std::string etag;                // as the listing gives it ("0x8D..."), or ""
};

// Where a download of a blob with `etag` into `target` keeps its bytes until it is whole.
std::filesystem::path partial_download_path(const std::filesystem::path& target, const std::string& etag);

struct RangeRead {
    bool ok = false;
    std::string bytes;               // what lies from the offset on (empty: nothing new)
    std::string error;
};

class BlobStorage {
public:
    using Done = std::function<void(TransferOutcome)>;

    BlobStorage(RetryingClient& client, BlobContainer container, BlobOptions options = {});

    // Uploads `files` under the container's prefix (its `prefix` joined with `relative`).
    void upload(std::vector<UploadItem> files, Done done);
    // Every blob under `prefix` (inside the container; "" for all), following NextMarker.
    void list(const std::string& prefix,
              std::function<void(std::optional<std::vector<BlobEntry>>, std::string error)> done);
    // Every blob under `prefix` into `folder`, by its name below the prefix. A name that
    // would leave the folder ("..") is refused.
    void download(const std::string& prefix, const std::filesystem::path& folder, Done done);
    // `path` (inside the container) into `to`: the blob of that name into the file `to`, or,
    // when `path` names a folder of blobs, every blob below it into the folder `to`. Nothing
    // there is an error that names the path.
    void fetch(const std::string& path, const std::filesystem::path& to, Done done);

    // `blob` (a full name in the container) from byte `offset` on: a log that grows.
    void read_range(const std::string& blob, std::uint64_t offset, std::function<void(RangeRead)> done);

    const BlobContainer& container() const { return container_; }

    // GET `url` (a blob's SAS URL, as run history hands them out) from byte `offset` on.
    static void read_from(RetryingClient& client, const std::string& url, std::uint64_t offset,
                          std::function<void(RangeRead)> done);

private:
    struct Upload;
    struct Download;
    // Every blob whose name starts with `raw` (no '/' added), following NextMarker.
    void list_from(const std::string& raw,
                   std::function<void(std::optional<std::vector<BlobEntry>>, std::string error)> done);
    RetryingClient& client_;
    BlobContainer container_;
    BlobOptions options_;
};

// The text of a storage error answer: status, the XML's <Code> and <Message>.
std::string storage_error(const HttpRequest& request, const HttpResponse& response);

}  // namespace amlflow::runtime::azureml
