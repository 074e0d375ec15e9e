#include "runtime/snapshot.h"

#include "compiler/source_tree.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;

std::optional<SnapshotResult> snapshot_source(const fs::path& source, const fs::path& destination,
                                              std::string* error) {
    auto digest = compiler::digest_source_tree(source, error);
    if (!digest) return std::nullopt;
    std::error_code failure;
    fs::create_directories(destination, failure);
    if (failure) {
        *error = "cannot create '" + destination.string() + "': " + failure.message();
        return std::nullopt;
    }
    for (const std::string& relative : digest->files) {
        fs::path from = source / relative;
        fs::path to = destination / relative;
        fs::create_directories(to.parent_path(), failure);
        if (fs::is_symlink(from, failure)) {
            fs::copy_symlink(from, to, failure);
        } else {
            fs::copy_file(from, to, fs::copy_options::overwrite_existing, failure);
        }
        if (failure) {
            *error = "cannot copy '" + relative + "' into the job's folder: " + failure.message();
            return std::nullopt;
        }
    }
    return SnapshotResult{digest->hash, digest->files.size()};
}

}  // namespace amlflow::runtime
