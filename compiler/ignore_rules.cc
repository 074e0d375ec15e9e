#include "compiler/ignore_rules.h"

#include <cstdio>
#include <system_error>

namespace amlflow::compiler {
namespace {

// Memoised backtracking: a pattern with several `*` would otherwise take exponential
// time on a long path. Each (pattern position, text position) pair is decided once.
class GlobMatcher {
public:
    GlobMatcher(std::string_view pattern, std::string_view text)
        : pattern_(pattern), text_(text), memo_((pattern.size() + 1) * (text.size() + 1), 0) {}

    bool match(size_t pi, size_t ti) {
        if (pi == pattern_.size()) return ti == text_.size();
        uint8_t& slot = memo_[pi * (text_.size() + 1) + ti];
        if (slot == 0) slot = step(pi, ti) ? 2 : 1;
        return slot == 2;
    }

private:
    bool step(size_t pi, size_t ti) {
        char c = pattern_[pi];
        if (c == '*') return star(pi, ti);
        if (ti == text_.size()) return false;
        char t = text_[ti];
        if (c == '?') return t != '/' && match(pi + 1, ti + 1);
        if (c == '[') {
            size_t next = 0;
            std::optional<bool> in_class = character_class(pi, t, &next);
            // An unterminated '[' is an ordinary character, as in git.
            if (in_class) return *in_class && t != '/' && match(next, ti + 1);
        }
        if (c == '\\' && pi + 1 < pattern_.size()) {
            return t == pattern_[pi + 1] && match(pi + 2, ti + 1);
        }
        return t == c && match(pi + 1, ti + 1);
    }

    bool star(size_t pi, size_t ti) {
        size_t end = pi;
        while (end < pattern_.size() && pattern_[end] == '*') ++end;
        bool whole_component_before = pi == 0 || pattern_[pi - 1] == '/';
        bool whole_component_after = end == pattern_.size() || pattern_[end] == '/';
        if (end - pi >= 2 && whole_component_before && whole_component_after) {
            if (end == pattern_.size()) return true;  // trailing `**`: everything below
            // `**/`: zero or more whole components, so try each component start.
            for (size_t t = ti;;) {
                if (match(end + 1, t)) return true;
                size_t slash = text_.find('/', t);
                if (slash == std::string_view::npos) return false;
                t = slash + 1;
            }
        }
        // Plain `*` (and `**` not standing alone in a component): any run within one
        // component.
        for (size_t t = ti;; ++t) {
            if (match(end, t)) return true;
            if (t == text_.size() || text_[t] == '/') return false;
        }
    }

    // Whether `c` is in the class starting at pattern_[pi] == '['; nullopt when the class
    // is not terminated. *next receives the position after the closing ']'.
    std::optional<bool> character_class(size_t pi, char c, size_t* next) const {
        size_t i = pi + 1;
        bool negate = i < pattern_.size() && (pattern_[i] == '!' || pattern_[i] == '^');
        if (negate) ++i;
        bool matched = false;
        for (bool first = true;; first = false) {
            if (i >= pattern_.size()) return std::nullopt;
            if (pattern_[i] == ']' && !first) break;  // a leading ']' is literal
            unsigned char low = take_char(&i);
            unsigned char high = low;
            if (i + 1 < pattern_.size() && pattern_[i] == '-' && pattern_[i + 1] != ']') {
                ++i;
                high = take_char(&i);
            }
            auto u = static_cast<unsigned char>(c);
            if (low <= u && u <= high) matched = true;
        }
        *next = i + 1;
        return matched != negate;
    }

    unsigned char take_char(size_t* i) const {
        if (pattern_[*i] == '\\' && *i + 1 < pattern_.size()) ++*i;
        return static_cast<unsigned char>(pattern_[(*i)++]);
    }

    std::string_view pattern_;
    std::string_view text_;
    std::vector<uint8_t> memo_;  // 0 unknown, 1 no match, 2 match
};

// Whole-file read through stdio, because ferror() reports a failed read (a directory, an
// I/O error) that stream extraction would turn into a silently empty file.
std::optional<std::string> read_file(const std::filesystem::path& file) {
    std::FILE* in = std::fopen(file.c_str(), "rb");
    if (!in) return std::nullopt;
    std::string text;
    char chunk[4096];
    size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, in)) > 0) text.append(chunk, got);
    bool failed = std::ferror(in) != 0;
    std::fclose(in);
    if (failed) return std::nullopt;
    return text;
}

// Trailing spaces are dropped unless the last one is escaped with a backslash.
std::string_view trim_trailing_spaces(std::string_view line) {
    while (!line.empty() && line.back() == ' ') {
        size_t backslashes = 0;
        for (size_t i = line.size() - 1; i > 0 && line[i - 1] == '\\'; --i) ++backslashes;
        if (backslashes % 2 == 1) break;
        line.remove_suffix(1);
    }
    return line;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    return GlobMatcher(pattern, text).match(0, 0);
}

std::optional<IgnoreRules::Rule> IgnoreRules::parse_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    line = trim_trailing_spaces(line);
    if (line.empty() || line.front() == '#') return std::nullopt;

    Rule rule;
    // `\!` and `\#` keep their backslash: the glob matcher reads it as an escape.
    if (line.front() == '!') {
        rule.negated = true;
        line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
        rule.directory_only = true;
        line.remove_suffix(1);
    }
    // Any remaining slash ties the pattern to the root; a leading one says only that.
    rule.anchored = line.find('/') != std::string_view::npos;
    if (!line.empty() && line.front() == '/') line.remove_prefix(1);
    if (line.empty()) return std::nullopt;
    rule.pattern = std::string(line);
    return rule;
}

IgnoreRules IgnoreRules::parse(std::string_view text, std::string origin) {
    IgnoreRules rules;
    rules.origin_ = std::move(origin);
    while (!text.empty()) {
        size_t newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        if (auto rule = parse_line(line)) rules.rules_.push_back(std::move(*rule));
        if (newline == std::string_view::npos) break;
        text.remove_prefix(newline + 1);
    }
    return rules;
}

std::optional<IgnoreRules> IgnoreRules::load_checked(const std::filesystem::path& root,
                                                     std::string* error) {
    for (const char* name : {".amlignore", ".gitignore"}) {
        std::error_code ec;
        std::filesystem::path file = root / name;
        if (!std::filesystem::exists(file, ec)) continue;
        std::optional<std::string> text = read_file(file);
        if (!text) {
            if (error) *error = "cannot read ignore file '" + file.string() + "'";
            return std::nullopt;
        }
        return parse(*text, name);
    }
    return IgnoreRules();
}

IgnoreRules IgnoreRules::load(const std::filesystem::path& root) {
    std::string unused;
    return load_checked(root, &unused).value_or(IgnoreRules());
}

bool IgnoreRules::ignored(std::string_view relative_path, bool is_directory) const {
    if (rules_.empty()) return false;
    while (!relative_path.empty() && relative_path.front() == '/') relative_path.remove_prefix(1);
    while (!relative_path.empty() && relative_path.back() == '/') {
        relative_path.remove_suffix(1);
        is_directory = true;
    }
    if (relative_path.empty()) return false;
    // git never looks inside an excluded directory, so nothing below one can be
    // re-included; checking each ancestor reproduces that.
    for (size_t slash = relative_path.find('/'); slash != std::string_view::npos;
         slash = relative_path.find('/', slash + 1)) {
        if (matches_last(relative_path.substr(0, slash), true)) return true;
    }
    return matches_last(relative_path, is_directory);
}

bool IgnoreRules::matches_last(std::string_view path, bool is_directory) const {
    size_t slash = path.rfind('/');
    std::string_view basename = slash == std::string_view::npos ? path : path.substr(slash + 1);
    for (auto rule = rules_.rbegin(); rule != rules_.rend(); ++rule) {  // last match wins
        if (rule->directory_only && !is_directory) continue;
        if (glob_match(rule->pattern, rule->anchored ? path : basename)) return !rule->negated;
    }
    return false;
}

}  // namespace amlflow::compiler
