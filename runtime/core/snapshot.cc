#include "runtime/core/snapshot.h"

#include "compiler/source_tree.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;

std::optional<SnapshotResult> snapshot_source(const fs::path& source, const fs::path& destination,
                                              const fs::path& leave_out, std::string* error,
                                              const std::vector<std::string>& include) {
    auto digest = compiler::digest_source_tree(source, error, include);
    if (!digest) return std::nullopt;
    std::error_code failure;
    fs::create_directories(destination, failure);
    if (failure) {
        *error = "cannot create '" + destination.string() + "': " + failure.message();
        return std::nullopt;
    }
    std::error_code ignored;
    fs::path store = leave_out.empty() ? fs::path() : fs::weakly_canonical(leave_out, ignored);
    fs::path root = fs::weakly_canonical(source, ignored);
    std::string store_prefix = store.empty() ? "" : store.lexically_relative(root).generic_string();
    bool store_inside = !store_prefix.empty() && store_prefix.rfind("..", 0) != 0;
    for (const std::string& relative : digest->files) {
        if (store_inside && (relative == store_prefix || relative.rfind(store_prefix + "/", 0) == 0)) continue;
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
