// Files that steps produce and consume: references to other steps' outputs resolved to
// paths, content digests (for cache keys and the model registry), and copies that can
// never leave their folder. A path that climbs out with `..`, is absolute where a
// relative one is meant, or is a symlink pointing outside the folder it belongs to is
// refused with one sentence naming it; nothing is half-copied in that case.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

// step name -> result key ("outputs", "logs", "best.outputs", "best.params.lr") -> text.
using StepResults = std::map<std::string, std::map<std::string, std::string>>;

struct ResolvedOutput {
    std::filesystem::path path;  // absolute
    std::filesystem::path root;  // the producing step's folder it must stay inside
    std::string step;            // the producing step (for messages)
    std::string shown;           // "train.outputs / \"model.pt\""
};

// Whether a plan value is a reference to a step's result: {"$output": {"step": "...",
// "result": [...], "path": "..."}} and nothing else (a user's map with a "$output" key
// is not one).
bool is_output_reference(const nlohmann::json& value);

// A `{"$output": {step, result, path}}` plan value as a path. Fails when the producing
// step has no such result or the sub-path is absolute or climbs out with `..`.
// Whether the file exists is the caller's question (see require_inside).
std::optional<ResolvedOutput> resolve_output(const nlohmann::json& value, const StepResults& results,
                                             std::string* error);

// Whether `path` exists and, with every symlink resolved, lies inside `root`. The error
// names `shown` and says which of the two failed.
bool require_inside(const std::filesystem::path& path, const std::filesystem::path& root,
                    const std::string& shown, std::string* error);

struct ContentDigest {
    std::string hash;   // sha256 hex
    int64_t bytes = 0;  // regular files' sizes
    int files = 0;
};

// A file: the sha256 of its bytes. A folder: the sha256 over its entries in sorted
// order (relative path, kind, content digest); symlinks that stay inside are hashed as
// what they point to, ones that leave it are refused. Special files are refused.
std::optional<ContentDigest> content_digest(const std::filesystem::path& path, std::string* error);

// What a local input path (a `$path` a step reads, outside its source snapshot) looks
// like now, for cache keys: a file up to 64 MiB by its content, a larger one by size and
// modification time, a folder by every entry's relative path, size and modification
// time (as Nextflow's default cache mode does: hashing a data set's bytes on every run
// would cost more than it saves). "absent" for a path that does not exist.
std::string input_fingerprint(const std::filesystem::path& path);

// Copies a file or a folder to `to` (a file path, or the folder to create). Refuses
// symlinks leaving `from`'s folder and special files before copying anything. Without
// `overwrite`, an existing different file at the destination is an error; identical
// files are left as they are.
bool copy_confined(const std::filesystem::path& from, const std::filesystem::path& to, bool overwrite,
                   std::string* error);
// The same, with the hint an "already exists" error gives: a step's field ("set overwrite
// = true to replace it", the default above) or a command's flag ("pass --overwrite").
bool copy_confined(const std::filesystem::path& from, const std::filesystem::path& to, bool overwrite,
                   std::string* error, const std::string& overwrite_hint);

// Whether a relative path given by a user stays below its base: no `..` climbing out,
// not absolute, not empty.
bool is_contained_relative(const std::string& path);

}  // namespace amlflow::runtime
