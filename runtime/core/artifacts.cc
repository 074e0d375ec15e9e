#include "runtime/core/artifacts.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include "compiler/sha256.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

bool inside(const fs::path& path, const fs::path& root) {
    auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
    return r == root.end();
}

std::optional<std::string> file_sha256(const fs::path& path, int64_t* bytes, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        *error = "cannot read " + quoted(path);
        return std::nullopt;
    }
    compiler::Sha256 sha;
    std::vector<char> buffer(1 << 16);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        sha.update(buffer.data(), static_cast<size_t>(in.gcount()));
        *bytes += in.gcount();
    }
    if (in.bad()) {
        *error = "cannot read " + quoted(path);
        return std::nullopt;
    }
    return sha.hex_digest();
}

// One entry of a folder, with a symlink replaced by what it points to.
struct Entry {
    std::string relative;
    fs::path real;  // what to read
};

// The files of a folder in sorted order; symlinks must stay inside and point at files.
std::optional<std::vector<Entry>> folder_files(const fs::path& folder, std::string* error) {
    std::error_code ec;
    fs::path root = fs::canonical(folder, ec);
    if (ec) {
        *error = "cannot read " + quoted(folder) + ": " + ec.message();
        return std::nullopt;
    }
    std::vector<Entry> entries;
    fs::recursive_directory_iterator it(folder, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const fs::directory_entry& entry = *it;
        fs::path relative = entry.path().lexically_relative(folder);
        if (entry.is_symlink(ec)) {
            fs::path target = fs::canonical(entry.path(), ec);
            if (ec || !inside(target, root)) {
                *error = "the symlink " + quoted(relative) + " in " + quoted(folder) + " points outside it";
                return std::nullopt;
            }
            if (!fs::is_regular_file(target, ec)) {
                *error = "the symlink " + quoted(relative) + " in " + quoted(folder) + " does not point at a file";
                return std::nullopt;
            }
            entries.push_back({relative.generic_string(), target});
        } else if (entry.is_directory(ec)) {
            continue;
        } else if (entry.is_regular_file(ec)) {
            entries.push_back({relative.generic_string(), entry.path()});
        } else {
            *error = quoted(relative) + " in " + quoted(folder) + " is not a regular file";
            return std::nullopt;
        }
    }
    if (ec) {
        *error = "cannot list " + quoted(folder) + ": " + ec.message();
        return std::nullopt;
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.relative < b.relative; });
    return entries;
}

bool same_file_content(const fs::path& a, const fs::path& b) {
    std::string ignored;
    int64_t bytes_a = 0, bytes_b = 0;
    auto hash_a = file_sha256(a, &bytes_a, &ignored);
    auto hash_b = file_sha256(b, &bytes_b, &ignored);
    return hash_a && hash_b && *hash_a == *hash_b;
}

// Whether writing `relative` under `root` would go through a symlink that already
// exists there (and so possibly out of `root`).
bool through_symlink(const fs::path& root, const fs::path& relative, std::string* error) {
    fs::path at = root;
    std::error_code ec;
    for (const fs::path& part : relative) {
        at /= part;
        if (fs::is_symlink(fs::symlink_status(at, ec))) {
            *error = "cannot copy to " + quoted(at) + ": it is a symlink, which could lead outside " + quoted(root);
            return true;
        }
    }
    return false;
}

bool copy_one(const fs::path& from, const fs::path& to, bool overwrite, const std::string& hint, std::string* error) {
    std::error_code ec;
    if (fs::exists(to, ec)) {
        if (fs::is_directory(to, ec)) {
            *error = "cannot copy to " + quoted(to) + ": a folder is in the way";
            return false;
        }
        if (same_file_content(from, to)) return true;
        if (!overwrite) {
            *error = quoted(to) + " already exists with other contents (" + hint + ")";
            return false;
        }
    }
    fs::create_directories(to.parent_path(), ec);
    // Through a temporary name, so a reader never sees half a file.
    fs::path temporary = to;
    temporary += ".amlflow-partial";
    fs::remove(temporary, ec);  // a stale one, even a symlink, is never written through
    fs::copy_file(from, temporary, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(temporary, to, ec);
    if (ec) {
        fs::remove(temporary, ec);
        *error = "cannot copy " + quoted(from) + " to " + quoted(to) + ": " + ec.message();
        return false;
    }
    return true;
}

}  // namespace

bool is_contained_relative(const std::string& path) {
    if (path.empty()) return true;
    fs::path p(path);
    if (p.is_absolute()) return false;
    int depth = 0;
    for (const fs::path& part : p) {
        if (part == "..") {
            if (--depth < 0) return false;
        } else if (part != "." && !part.empty()) {
            ++depth;
        }
    }
    return true;
}

bool is_output_reference(const json& value) {
    if (!value.is_object() || value.size() != 1 || !value.contains("$output")) return false;
    const json& out = value["$output"];
    if (!out.is_object() || !out.contains("step") || !out["step"].is_string()) return false;
    if (!out.contains("result") || !out["result"].is_array()) return false;
    for (const json& part : out["result"]) {
        if (!part.is_string()) return false;
    }
    return !out.contains("path") || out["path"].is_string();
}

std::optional<ResolvedOutput> resolve_output(const json& value, const StepResults& results, std::string* error) {
    if (!is_output_reference(value)) {
        *error = "the value " + value.dump(-1, ' ', false, json::error_handler_t::replace) + " is not a step result";
        return std::nullopt;
    }
    const json& out = value.at("$output");
    std::string step = out.value("step", "");
    std::vector<std::string> result = out.value("result", std::vector<std::string>{});
    std::string key;
    for (const std::string& part : result) key += (key.empty() ? "" : ".") + part;
    std::string sub = out.value("path", "");
    ResolvedOutput resolved;
    resolved.step = step;
    resolved.shown = step + "." + key + (sub.empty() ? "" : " / \"" + sub + "\"");
    auto found = results.find(step);
    if (found == results.end() || !found->second.count(key)) {
        *error = "the result '" + step + "." + key + "' is not available";
        return std::nullopt;
    }
    if (!is_contained_relative(sub)) {
        *error = "the path '" + sub + "' in " + resolved.shown + " leaves the outputs of step '" + step + "'";
        return std::nullopt;
    }
    resolved.root = fs::path(found->second.at(key)).lexically_normal();
    resolved.path = sub.empty() ? resolved.root : (resolved.root / sub).lexically_normal();
    return resolved;
}

bool require_inside(const fs::path& path, const fs::path& root, const std::string& shown, std::string* error) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        *error = shown + " does not exist (" + path.string() + ")";
        return false;
    }
    fs::path real = fs::canonical(path, ec);
    fs::path real_root = fs::canonical(root, ec);
    if (ec || !inside(real, real_root)) {
        *error = shown + " leaves its folder through a symlink (" + path.string() + " -> " + real.string() + ")";
        return false;
    }
    return true;
}

std::optional<ContentDigest> content_digest(const fs::path& path, std::string* error) {
    std::error_code ec;
    ContentDigest digest;
    if (fs::is_regular_file(path, ec)) {
        auto hash = file_sha256(path, &digest.bytes, error);
        if (!hash) return std::nullopt;
        digest.hash = *hash;
        digest.files = 1;
        return digest;
    }
    if (!fs::is_directory(path, ec)) {
        *error = quoted(path) + " is neither a file nor a folder";
        return std::nullopt;
    }
    auto entries = folder_files(path, error);
    if (!entries) return std::nullopt;
    compiler::Sha256 sha;
    for (const Entry& entry : *entries) {
        auto hash = file_sha256(entry.real, &digest.bytes, error);
        if (!hash) return std::nullopt;
        sha.update(entry.relative);
        sha.update(std::string_view("\0", 1));
        sha.update(*hash);
        sha.update(std::string_view("\n", 1));
        ++digest.files;
    }
    digest.hash = sha.hex_digest();
    return digest;
}

std::string input_fingerprint(const fs::path& path) {
    std::error_code ec;
    auto stamp = [](const fs::path& file, std::error_code& error) {
        auto size = fs::file_size(file, error);
        auto time = fs::last_write_time(file, error).time_since_epoch().count();
        return std::to_string(size) + ":" + std::to_string(time);
    };
    if (fs::is_regular_file(path, ec)) {
        if (fs::file_size(path, ec) <= (64u << 20)) {
            int64_t bytes = 0;
            std::string ignored;
            auto hash = file_sha256(path, &bytes, &ignored);
            if (hash) return "sha256:" + *hash;
        }
        return "stat:" + stamp(path, ec);
    }
    if (!fs::is_directory(path, ec)) return "absent";
    std::vector<std::string> entries;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        entries.push_back(it->path().lexically_relative(path).generic_string() + "=" + stamp(it->path(), ec));
    }
    std::sort(entries.begin(), entries.end());
    compiler::Sha256 sha;
    for (const std::string& entry : entries) sha.update(entry + "\n");
    return "folder:" + sha.hex_digest();
}

bool copy_confined(const fs::path& from, const fs::path& to, bool overwrite, std::string* error) {
    return copy_confined(from, to, overwrite, error, "set overwrite = true to replace it");
}

bool copy_confined(const fs::path& from, const fs::path& to, bool overwrite, std::string* error,
                   const std::string& overwrite_hint) {
    std::error_code ec;
    if (fs::is_regular_file(from, ec)) {
        if (through_symlink(to.parent_path(), to.filename(), error)) return false;
        return copy_one(from, to, overwrite, overwrite_hint, error);
    }
    auto entries = folder_files(from, error);  // every refusal happens before any copy
    if (!entries) return false;
    for (const Entry& entry : *entries) {
        if (through_symlink(to, entry.relative, error)) return false;
    }
    fs::create_directories(to, ec);
    if (ec) {
        *error = "cannot create " + quoted(to) + ": " + ec.message();
        return false;
    }
    for (const Entry& entry : *entries) {
        if (!copy_one(entry.real, to / entry.relative, overwrite, overwrite_hint, error)) return false;
    }
    return true;
}

}  // namespace amlflow::runtime
