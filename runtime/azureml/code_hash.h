// The content hash by which Azure ML finds a code snapshot already uploaded (hash version
// `202208`, azure-ai-ml's `get_content_hash`; NOTES "Code upload hash"). The same folder
// must give the same hash here as in the Azure ML CLI and SDK, so that a snapshot uploaded
// by either is found by the other and never sent twice.
//
// The files are the SDK's, not the local snapshot's (runtime/core/snapshot.h): every file
// under the folder that the root's `.amlignore` (else `.gitignore`) keeps, symlinks followed
// (a linked folder's files appear under the link's name), nothing else left out (the SDK
// uploads `.git` and `__pycache__` when the ignore file keeps them). The ignore rules are
// compiler/ignore_rules.h's, which follow git; the SDK lets the first matching pattern
// decide, so only files matched by both a pattern and a later `!pattern` can differ.
//
// The hash: sha256 over the decimal count of files, then for each file, sorted by its
// lowercased '/'-separated relative path, `#<relpath>#<size>`, then in the same order each
// file's bytes. Names equal but for case keep byte order (the SDK keeps its walk's order).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace amlflow::runtime::azureml {

inline constexpr const char* kCodeHashVersion = "202208";

struct CodeFile {
    std::filesystem::path absolute;  // where its bytes are read (a link's target)
    std::string relative;            // '/'-separated, as uploaded
    std::uint64_t size = 0;
};

// The files of `root` the SDK would upload, in hash order. `leave_out` (the run store,
// when it lies inside the folder) is skipped; empty: nothing is. Errors (root not a
// folder, an unreadable ignore file or folder, a dangling link): nullopt and *error set to
// one lowercase sentence.
std::optional<std::vector<CodeFile>> code_files(const std::filesystem::path& root,
                                                const std::filesystem::path& leave_out, std::string* error);

// The hash of these files, read now (sizes are taken from the bytes read, so a file that
// changes between listing and hashing is an error, not a wrong hash).
std::optional<std::string> code_content_hash(const std::vector<CodeFile>& files, std::string* error);

struct CodeSnapshot {
    std::string hash;              // 64 lowercase hex digits
    std::vector<CodeFile> files;   // what to upload, in hash order
};

// code_files, then code_content_hash.
std::optional<CodeSnapshot> hash_code_folder(const std::filesystem::path& root,
                                             const std::filesystem::path& leave_out, std::string* error);

}  // namespace amlflow::runtime::azureml
