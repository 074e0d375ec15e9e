// Which files of a job's source folder belong to its snapshot. Azure ML reads one ignore
// file from the root of the source folder: `.amlignore` when it exists, otherwise
// `.gitignore`; nested ignore files in subfolders are not consulted. The pattern
// language follows gitignore(5) so that a user's existing .gitignore behaves the same
// here as it does in git and in Azure ML's own upload.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

class IgnoreRules {
public:
    IgnoreRules() = default;

    // Reads `.amlignore`, else `.gitignore`, from `root`. Never throws: when neither
    // exists, or the chosen file cannot be read, the result ignores nothing (use
    // load_checked to tell an unreadable file apart).
    static IgnoreRules load(const std::filesystem::path& root);

    // Like load, but an ignore file that exists and cannot be read is an error: a
    // snapshot taken without its rules would silently include files meant to be left out.
    static std::optional<IgnoreRules> load_checked(const std::filesystem::path& root,
                                                   std::string* error);

    // Parses the text of an ignore file; `origin` is reported back by origin().
    static IgnoreRules parse(std::string_view text, std::string origin);

    // `relative_path` is '/'-separated and relative to the root (no leading "./" or "/").
    // A path inside an ignored directory is ignored, and a negation cannot re-include
    // it, as in git.
    bool ignored(std::string_view relative_path, bool is_directory) const;

    // ".amlignore", ".gitignore", or "" when no ignore file was used.
    const std::string& origin() const { return origin_; }

    size_t rule_count() const { return rules_.size(); }

private:
    struct Rule {
        std::string pattern;       // glob, still holding its backslash escapes
        bool negated = false;      // `!pattern`: re-includes what earlier rules excluded
        bool directory_only = false;  // trailing '/'
        bool anchored = false;     // matched against the whole path, not the basename
    };

    static std::optional<Rule> parse_line(std::string_view line);
    // The verdict of the rules for this one path, ignoring its parent directories.
    bool matches_last(std::string_view path, bool is_directory) const;

    std::vector<Rule> rules_;
    std::string origin_;
};

// Matches a gitignore glob against `text`, where `*`, `?` and classes never match '/',
// and `**` between slashes (or at either end) matches any number of path components.
// Exposed for tests.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace amlflow::compiler
