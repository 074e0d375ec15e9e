#include "runtime/azureml/code_hash.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <system_error>
#include <utility>

#include <sys/stat.h>

#include "compiler/ignore_rules.h"
#include "compiler/sha256.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
namespace {

std::string sort_key(const std::string& relative) {
    std::string key = relative;
    for (char& c : key) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return key;
}

class CodeWalker {
public:
    CodeWalker(const compiler::IgnoreRules& rules, fs::path leave_out, std::string* error)
        : rules_(rules), leave_out_(std::move(leave_out)), error_(error) {}

    // os.walk(followlinks=True) as the SDK does, but a folder reached again through a link
    // cycle is not entered twice (the SDK would walk forever).
    bool walk(const fs::path& directory, const std::string& prefix) {
        struct stat info {};
        if (::stat(directory.c_str(), &info) != 0) return fail("cannot read folder '" + directory.string() + "'");
        std::pair<dev_t, ino_t> id{info.st_dev, info.st_ino};
        if (!on_path_.insert(id).second) return true;
        std::error_code ec;
        fs::directory_iterator it(directory, ec);
        for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
            if (!visit(*it, prefix)) return false;
        }
        on_path_.erase(id);
        if (ec) return fail("cannot list folder '" + directory.string() + "'");
        return true;
    }

    std::vector<CodeFile> files;

private:
    bool visit(const fs::directory_entry& item, const std::string& prefix) {
        std::error_code ec;
        std::string relative = prefix + item.path().filename().string();
        if (!leave_out_.empty() && fs::equivalent(item.path(), leave_out_, ec)) return true;
        fs::file_status status = item.status(ec);  // follows links
        if (ec) {
            if (item.is_symlink(ec)) return fail("link '" + item.path().string() + "' points nowhere");
            return true;  // vanished since it was listed
        }
        if (fs::is_directory(status)) {
            if (rules_.ignored(relative, true)) return true;
            return walk(item.path(), relative + "/");
        }
        if (!fs::is_regular_file(status) || rules_.ignored(relative, false)) return true;
        std::uintmax_t size = fs::file_size(item.path(), ec);
        if (ec) return fail("cannot read file '" + item.path().string() + "'");
        files.push_back({item.path(), relative, static_cast<std::uint64_t>(size)});
        return true;
    }

    bool fail(std::string message) {
        if (error_) *error_ = std::move(message);
        return false;
    }

    const compiler::IgnoreRules& rules_;
    fs::path leave_out_;
    std::string* error_;
    std::set<std::pair<dev_t, ino_t>> on_path_;
};

bool hash_bytes(const CodeFile& file, compiler::Sha256& hasher, std::string* error) {
    std::FILE* in = std::fopen(file.absolute.c_str(), "rb");
    if (!in) {
        if (error) *error = "cannot read file '" + file.absolute.string() + "'";
        return false;
    }
    std::array<char, 1 << 16> chunk;
    std::uint64_t total = 0;
    size_t got = 0;
    while ((got = std::fread(chunk.data(), 1, chunk.size(), in)) > 0) {
        hasher.update(chunk.data(), got);
        total += got;
    }
    bool failed = std::ferror(in) != 0;
    std::fclose(in);
    if (failed || total != file.size) {
        if (error) {
            *error = failed ? "cannot read file '" + file.absolute.string() + "'"
                            : "file '" + file.absolute.string() + "' changed while it was hashed";
        }
        return false;
    }
    return true;
}

}  // namespace

std::optional<std::vector<CodeFile>> code_files(const fs::path& root, const fs::path& leave_out,
                                                std::string* error) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        if (error) *error = "source folder '" + root.string() + "' is not a directory";
        return std::nullopt;
    }
    std::optional<compiler::IgnoreRules> rules = compiler::IgnoreRules::load_checked(root, error);
    if (!rules) return std::nullopt;
    CodeWalker walker(*rules, leave_out, error);
    if (!walker.walk(root, "")) return std::nullopt;
    std::vector<CodeFile> files = std::move(walker.files);
    std::sort(files.begin(), files.end(), [](const CodeFile& a, const CodeFile& b) {
        std::string ka = sort_key(a.relative), kb = sort_key(b.relative);
        return ka != kb ? ka < kb : a.relative < b.relative;
    });
    return files;
}

std::optional<std::string> code_content_hash(const std::vector<CodeFile>& files, std::string* error) {
    compiler::Sha256 hasher;
    hasher.update(std::to_string(files.size()));
    for (const CodeFile& file : files) {
        hasher.update("#" + file.relative + "#" + std::to_string(file.size));
    }
    for (const CodeFile& file : files) {
        if (!hash_bytes(file, hasher, error)) return std::nullopt;
    }
    return hasher.hex_digest();
}

std::optional<CodeSnapshot> hash_code_folder(const fs::path& root, const fs::path& leave_out,
                                             std::string* error) {
    std::optional<std::vector<CodeFile>> files = code_files(root, leave_out, error);
    if (!files) return std::nullopt;
    std::optional<std::string> hash = code_content_hash(*files, error);
    if (!hash) return std::nullopt;
    return CodeSnapshot{std::move(*hash), std::move(*files)};
}

}  // namespace amlflow::runtime::azureml
