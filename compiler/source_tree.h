// The source snapshot of a job: a digest of the files in its source folder that would be
// uploaded with it. Two runs whose folders digest the same ran the same code, which is
// what lets the runtime reuse a cached step and lets a run record say which code it used.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

struct SourceTreeDigest {
    std::string hash;                // sha256 hex over the entries below
    std::vector<std::string> files;  // relative '/'-separated paths, sorted; symlinks included
    uint64_t total_bytes = 0;        // bytes of regular-file contents (not symlink targets)
    std::string ignore_origin;       // from IgnoreRules::origin()
};

// Digests the folder `root` under the rules of its .amlignore / .gitignore.
//
// Covered, per entry in sorted relative-path order: the path, whether it is a regular
// file, an executable regular file (owner exec bit) or a symlink, and its contents (for a
// symlink, its target text; links are never followed). Not covered: absolute location,
// mtimes, other permission bits, empty directories. Always left out: directories named
// .git, __pycache__, .amlflow, .ipynb_checkpoints (and a `.git` file, which is a
// submodule's pointer to its repository), files ending .pyc, and special files (fifos,
// sockets, devices), which have no content to upload.
//
// Errors: returns std::nullopt and sets *error (a short lowercase sentence) when root is
// not a readable directory, when the ignore file exists but cannot be read, or when a
// directory or file that is part of the snapshot cannot be listed or read. A digest that
// silently skipped such an entry would name code that is not what runs, so this fails
// instead. Ignored entries are never opened, so unreadable ignored content is fine. An
// entry that disappears between listing and inspection is skipped. Never throws
// filesystem errors. `error` may be null.
//
// `include` (a job's `source_include`), when not empty, narrows the snapshot further: only
// the files it matches (source_include_matches) are entries; the ignore rules still apply.
std::optional<SourceTreeDigest> digest_source_tree(const std::filesystem::path& root,
                                                   std::string* error,
                                                   const std::vector<std::string>& include = {});

// Whether `relative_path` ('/'-separated, relative to the source folder) is matched by one
// of `patterns`. A pattern with no '/' (but a trailing one) matches a name at any depth
// (`*.py`, `README.md`); one with a '/' matches from the folder's root (`conf/*.yaml`, where
// `**` matches any number of folders: `conf/**`). A pattern that matches a folder takes in
// everything under it (`conf`, `data/`); a trailing '/' matches folders only.
bool source_include_matches(const std::vector<std::string>& patterns, std::string_view relative_path);

// Why a `source_include` pattern cannot be used ("" when it can): empty, absolute, or
// leaving the folder with '..'.
std::string source_include_problem(const std::string& pattern);

}  // namespace amlflow::compiler
