#include "compiler/source_tree.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <system_error>

#include "compiler/ignore_rules.h"
#include "compiler/sha256.h"

namespace amlflow::compiler {
namespace fs = std::filesystem;
namespace {

// Bumped whenever the byte layout fed to the hash changes, so that digests taken by
// different versions never compare equal by accident.
constexpr std::string_view kFormatTag = "amlflow-source-tree-v1\n";

enum class EntryKind : char { kFile = 'f', kExecutable = 'x', kSymlink = 'l' };

struct Entry {
    std::string relative;
    fs::path absolute;
    EntryKind kind;
};

bool always_skipped(const std::string& name, fs::file_type type) {
    if (name == ".git") return true;
    if (type == fs::file_type::directory) {
        return name == "__pycache__" || name == ".amlflow" || name == ".ipynb_checkpoints";
    }
    return name.size() >= 4 && name.compare(name.size() - 4, 4, ".pyc") == 0;
}

class TreeWalker {
public:
    TreeWalker(const IgnoreRules& rules, const std::vector<std::string>& include, std::vector<Entry>* entries,
               std::string* error)
        : rules_(rules), include_(include), entries_(entries), error_(error) {}

    // Explicit recursion rather than recursive_directory_iterator: ignored directories
    // must not be opened at all (they may be huge or unreadable).
    bool walk(const fs::path& directory, const std::string& prefix) {
        std::error_code ec;
        fs::directory_iterator it(directory, ec);
        for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
            if (!visit(*it, prefix)) return false;
        }
        if (ec) return fail("cannot list directory '" + directory.string() + "'");
        return true;
    }

private:
    bool visit(const fs::directory_entry& item, const std::string& prefix) {
        std::error_code ec;
        fs::file_status status = item.symlink_status(ec);
        if (ec) return true;  // vanished since it was listed
        std::string name = item.path().filename().string();
        std::string relative = prefix + name;
        fs::file_type type = status.type();
        if (always_skipped(name, type)) return true;
        bool is_directory = type == fs::file_type::directory;
        if (rules_.ignored(relative, is_directory)) return true;
        if (is_directory) return walk(item.path(), relative + "/");
        if (!include_.empty() && !source_include_matches(include_, relative)) return true;
        if (type == fs::file_type::symlink) {
            entries_->push_back({relative, item.path(), EntryKind::kSymlink});
        } else if (type == fs::file_type::regular) {
            bool exec = (status.permissions() & fs::perms::owner_exec) != fs::perms::none;
            entries_->push_back(
                {relative, item.path(), exec ? EntryKind::kExecutable : EntryKind::kFile});
        }
        return true;
    }

    bool fail(std::string message) {
        if (error_) *error_ = std::move(message);
        return false;
    }

    const IgnoreRules& rules_;
    const std::vector<std::string>& include_;
    std::vector<Entry>* entries_;
    std::string* error_;
};

void update_u64(Sha256& hasher, uint64_t value) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
    hasher.update(bytes, sizeof bytes);
}

void update_field(Sha256& hasher, std::string_view field) {
    update_u64(hasher, field.size());
    hasher.update(field);
}

// Streams a file through its own hasher in fixed chunks so that memory stays flat for
// large data files; returns nullopt when the file cannot be opened or read to the end.
std::optional<std::string> hash_file(const fs::path& path, uint64_t* size) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (!in) return std::nullopt;
    Sha256 hasher;
    std::array<char, 1 << 16> chunk;
    *size = 0;
    size_t got = 0;
    while ((got = std::fread(chunk.data(), 1, chunk.size(), in)) > 0) {
        hasher.update(chunk.data(), got);
        *size += got;
    }
    bool failed = std::ferror(in) != 0;
    std::fclose(in);
    if (failed) return std::nullopt;
    return hasher.hex_digest();
}

// One entry's record: kind, path, content length, content digest. The length prefixes
// keep a path ending where the next field begins from colliding with another split.
bool hash_entry(const Entry& entry, Sha256& tree, uint64_t* total_bytes, std::string* error) {
    std::string content_digest;
    uint64_t size = 0;
    if (entry.kind == EntryKind::kSymlink) {
        std::error_code ec;
        std::string target = fs::read_symlink(entry.absolute, ec).string();
        if (ec) {
            if (error) *error = "cannot read symlink '" + entry.absolute.string() + "'";
            return false;
        }
        size = target.size();
        content_digest = sha256_hex(target);
    } else {
        std::optional<std::string> digest = hash_file(entry.absolute, &size);
        if (!digest) {
            if (error) *error = "cannot read file '" + entry.absolute.string() + "'";
            return false;
        }
        content_digest = std::move(*digest);
        *total_bytes += size;
    }
    char kind = static_cast<char>(entry.kind);
    tree.update(&kind, 1);
    update_field(tree, entry.relative);
    update_u64(tree, size);
    tree.update(content_digest);
    return true;
}

// One pattern against a path: the whole path when the pattern names folders (has a '/'
// before its end), else the last component.
bool pattern_matches(std::string_view pattern, std::string_view path) {
    while (pattern.rfind("./", 0) == 0) pattern.remove_prefix(2);
    bool anchored = pattern.find('/') != std::string_view::npos;
    if (anchored) return glob_match(pattern, path);
    size_t slash = path.rfind('/');
    return glob_match(pattern, slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

bool source_include_matches(const std::vector<std::string>& patterns, std::string_view relative_path) {
    for (const std::string& written : patterns) {
        std::string_view pattern = written;
        bool folders_only = !pattern.empty() && pattern.back() == '/';
        while (!pattern.empty() && pattern.back() == '/') pattern.remove_suffix(1);
        if (pattern.empty()) continue;
        if (!folders_only && pattern_matches(pattern, relative_path)) return true;
        // The folders above the file: a pattern that matches one takes in all it holds.
        for (size_t slash = relative_path.find('/'); slash != std::string_view::npos;
             slash = relative_path.find('/', slash + 1)) {
            if (pattern_matches(pattern, relative_path.substr(0, slash))) return true;
        }
    }
    return false;
}

std::string source_include_problem(const std::string& pattern) {
    if (pattern.empty()) return "an empty pattern matches nothing";
    if (pattern[0] == '/') return "patterns are relative to the source folder";
    for (size_t start = 0; start <= pattern.size();) {
        size_t end = pattern.find('/', start);
        if (end == std::string::npos) end = pattern.size();
        if (pattern.compare(start, end - start, "..") == 0) return "a pattern cannot leave the source folder with '..'";
        start = end + 1;
    }
    return "";
}

std::optional<SourceTreeDigest> digest_source_tree(const fs::path& root, std::string* error,
                                                   const std::vector<std::string>& include) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        if (error) *error = "source folder '" + root.string() + "' is not a directory";
        return std::nullopt;
    }
    std::optional<IgnoreRules> rules = IgnoreRules::load_checked(root, error);
    if (!rules) return std::nullopt;

    std::vector<Entry> entries;
    if (!TreeWalker(*rules, include, &entries, error).walk(root, "")) return std::nullopt;
    // Byte order of the relative paths: independent of locale and of the order the
    // filesystem happens to list directories in.
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.relative < b.relative; });

    SourceTreeDigest digest;
    digest.ignore_origin = rules->origin();
    Sha256 tree;
    tree.update(kFormatTag);
    update_u64(tree, entries.size());
    for (const Entry& entry : entries) {
        if (!hash_entry(entry, tree, &digest.total_bytes, error)) return std::nullopt;
        digest.files.push_back(entry.relative);
    }
    digest.hash = tree.hex_digest();
    return digest;
}

}  // namespace amlflow::compiler
