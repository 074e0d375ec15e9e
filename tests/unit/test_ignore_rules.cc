#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "compiler/ignore_rules.h"

namespace fs = std::filesystem;
using amlflow::compiler::glob_match;
using amlflow::compiler::IgnoreRules;

namespace {

IgnoreRules rules(std::string_view text) { return IgnoreRules::parse(text, ".gitignore"); }

bool file_ignored(const IgnoreRules& r, std::string_view path) { return r.ignored(path, false); }
bool dir_ignored(const IgnoreRules& r, std::string_view path) { return r.ignored(path, true); }

// A fresh folder per test, removed when the test ends even if it fails.
struct TempDir {
    fs::path path;
    TempDir() {
        static std::atomic<int> counter{0};
        auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path = fs::temp_directory_path() /
               ("amlflow_ignore_" + std::to_string(stamp) + "_" + std::to_string(counter++));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name, std::ios::binary) << text;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ignore_rules)

BOOST_AUTO_TEST_CASE(blank_lines_and_comments_are_not_rules) {
    IgnoreRules r = rules("\n# a comment\n   \n#*.py\n");
    BOOST_TEST(r.rule_count() == 0u);
    BOOST_TEST(!file_ignored(r, "train.py"));
    BOOST_TEST(!file_ignored(r, "# a comment"));
}

BOOST_AUTO_TEST_CASE(escaped_hash_and_bang_are_literal) {
    IgnoreRules r = rules("\\#notes.txt\n\\!important\n");
    BOOST_TEST(file_ignored(r, "#notes.txt"));
    BOOST_TEST(file_ignored(r, "!important"));
    BOOST_TEST(!file_ignored(r, "important"));
}

BOOST_AUTO_TEST_CASE(trailing_spaces_are_trimmed_unless_escaped) {
    IgnoreRules r = rules("data.csv   \nkeep\\ \r\n");
    BOOST_TEST(file_ignored(r, "data.csv"));
    BOOST_TEST(!file_ignored(r, "data.csv   "));
    BOOST_TEST(file_ignored(r, "keep "));
    BOOST_TEST(!file_ignored(r, "keep"));
}

BOOST_AUTO_TEST_CASE(crlf_line_endings) {
    IgnoreRules r = rules("*.log\r\noutputs/\r\n");
    BOOST_TEST(file_ignored(r, "run.log"));
    BOOST_TEST(dir_ignored(r, "outputs"));
}

BOOST_AUTO_TEST_CASE(negation_last_match_wins) {
    IgnoreRules r = rules("*.log\n!keep.log\n");
    BOOST_TEST(file_ignored(r, "run.log"));
    BOOST_TEST(!file_ignored(r, "keep.log"));
    BOOST_TEST(!file_ignored(r, "sub/keep.log"));
    IgnoreRules reversed = rules("!keep.log\n*.log\n");
    BOOST_TEST(file_ignored(reversed, "keep.log"));
}

BOOST_AUTO_TEST_CASE(trailing_slash_matches_directories_only) {
    IgnoreRules r = rules("build/\n");
    BOOST_TEST(dir_ignored(r, "build"));
    BOOST_TEST(dir_ignored(r, "src/build"));
    BOOST_TEST(!file_ignored(r, "build"));
    BOOST_TEST(file_ignored(r, "build/out.o"));  // inside the ignored directory
}

BOOST_AUTO_TEST_CASE(pattern_without_slash_matches_basename_at_any_depth) {
    IgnoreRules r = rules("secret.txt\n");
    BOOST_TEST(file_ignored(r, "secret.txt"));
    BOOST_TEST(file_ignored(r, "a/b/secret.txt"));
    BOOST_TEST(!file_ignored(r, "a/secret.txt.bak"));
}

BOOST_AUTO_TEST_CASE(leading_slash_anchors_to_root) {
    IgnoreRules r = rules("/config.yml\n");
    BOOST_TEST(file_ignored(r, "config.yml"));
    BOOST_TEST(!file_ignored(r, "sub/config.yml"));
}

BOOST_AUTO_TEST_CASE(middle_slash_anchors_to_root) {
    IgnoreRules r = rules("doc/*.txt\n");
    BOOST_TEST(file_ignored(r, "doc/a.txt"));
    BOOST_TEST(!file_ignored(r, "doc/sub/a.txt"));  // '*' does not cross '/'
    BOOST_TEST(!file_ignored(r, "src/doc/a.txt"));
}

BOOST_AUTO_TEST_CASE(star_and_question_mark) {
    IgnoreRules r = rules("*.ckpt\nrun?.log\n");
    BOOST_TEST(file_ignored(r, "model.ckpt"));
    BOOST_TEST(file_ignored(r, ".ckpt"));
    BOOST_TEST(file_ignored(r, "run1.log"));
    BOOST_TEST(!file_ignored(r, "run.log"));
    BOOST_TEST(!file_ignored(r, "run12.log"));
}

BOOST_AUTO_TEST_CASE(character_classes) {
    IgnoreRules r = rules("file[abc].txt\nlog[0-9]\nx[!a]y\n");
    BOOST_TEST(file_ignored(r, "filea.txt"));
    BOOST_TEST(file_ignored(r, "filec.txt"));
    BOOST_TEST(!file_ignored(r, "filed.txt"));
    BOOST_TEST(file_ignored(r, "log7"));
    BOOST_TEST(!file_ignored(r, "logx"));
    BOOST_TEST(file_ignored(r, "xby"));
    BOOST_TEST(!file_ignored(r, "xay"));
}

BOOST_AUTO_TEST_CASE(glob_class_edge_cases) {
    BOOST_TEST(glob_match("[]a]", "]"));
    BOOST_TEST(glob_match("[^a]", "b"));
    BOOST_TEST(!glob_match("[^a]", "a"));
    BOOST_TEST(glob_match("a[", "a["));  // unterminated class is literal
    BOOST_TEST(!glob_match("a[!b]c", "a/c"));
    BOOST_TEST(glob_match("a\\*b", "a*b"));
    BOOST_TEST(!glob_match("a\\*b", "axb"));
}

BOOST_AUTO_TEST_CASE(leading_double_star) {
    IgnoreRules r = rules("**/logs\n**/cache/tmp\n");
    BOOST_TEST(dir_ignored(r, "logs"));
    BOOST_TEST(dir_ignored(r, "a/b/logs"));
    BOOST_TEST(file_ignored(r, "cache/tmp"));
    BOOST_TEST(file_ignored(r, "x/cache/tmp"));
    BOOST_TEST(!file_ignored(r, "x/cache/tmp2"));
}

BOOST_AUTO_TEST_CASE(trailing_double_star) {
    IgnoreRules r = rules("data/**\n");
    BOOST_TEST(!dir_ignored(r, "data"));  // only what is inside
    BOOST_TEST(file_ignored(r, "data/a.csv"));
    BOOST_TEST(file_ignored(r, "data/x/y/z.csv"));
    BOOST_TEST(!file_ignored(r, "other/data/a.csv"));
}

BOOST_AUTO_TEST_CASE(middle_double_star) {
    IgnoreRules r = rules("a/**/b\n");
    BOOST_TEST(file_ignored(r, "a/b"));
    BOOST_TEST(file_ignored(r, "a/x/b"));
    BOOST_TEST(file_ignored(r, "a/x/y/b"));
    BOOST_TEST(!file_ignored(r, "a/xb"));
    BOOST_TEST(!file_ignored(r, "z/a/x/b"));
}

BOOST_AUTO_TEST_CASE(double_star_inside_a_name_is_a_plain_star) {
    BOOST_TEST(glob_match("a**z", "abcz"));
    BOOST_TEST(!glob_match("a**z", "ab/cz"));
}

BOOST_AUTO_TEST_CASE(file_inside_ignored_directory_cannot_be_reincluded) {
    IgnoreRules r = rules("outputs\n!outputs/keep.txt\n");
    BOOST_TEST(dir_ignored(r, "outputs"));
    BOOST_TEST(file_ignored(r, "outputs/keep.txt"));
    BOOST_TEST(file_ignored(r, "outputs/deep/more.bin"));
}

BOOST_AUTO_TEST_CASE(reinclude_one_directory_of_an_excluded_root) {
    // The gitignore(5) example: everything except foo/bar.
    IgnoreRules r = rules("/*\n!/foo\n/foo/*\n!/foo/bar\n");
    BOOST_TEST(file_ignored(r, "top.txt"));
    BOOST_TEST(!dir_ignored(r, "foo"));
    BOOST_TEST(file_ignored(r, "foo/other"));
    BOOST_TEST(!dir_ignored(r, "foo/bar"));
    BOOST_TEST(!file_ignored(r, "foo/bar/file.py"));
}

BOOST_AUTO_TEST_CASE(many_stars_stay_fast) {
    std::string path(200, 'a');
    BOOST_TEST(!glob_match("*a*a*a*a*a*a*a*a*a*a*b", path));
}

BOOST_AUTO_TEST_CASE(amlignore_takes_precedence_over_gitignore) {
    TempDir dir;
    dir.write(".gitignore", "*.csv\n");
    dir.write(".amlignore", "*.bin\n");
    IgnoreRules r = IgnoreRules::load(dir.path);
    BOOST_TEST(r.origin() == ".amlignore");
    BOOST_TEST(file_ignored(r, "w.bin"));
    BOOST_TEST(!file_ignored(r, "d.csv"));
}

BOOST_AUTO_TEST_CASE(gitignore_used_without_amlignore) {
    TempDir dir;
    dir.write(".gitignore", "*.csv\n");
    IgnoreRules r = IgnoreRules::load(dir.path);
    BOOST_TEST(r.origin() == ".gitignore");
    BOOST_TEST(file_ignored(r, "d.csv"));
}

BOOST_AUTO_TEST_CASE(no_ignore_file_ignores_nothing) {
    TempDir dir;
    IgnoreRules r = IgnoreRules::load(dir.path);
    BOOST_TEST(r.origin() == "");
    BOOST_TEST(!file_ignored(r, "anything"));
}

BOOST_AUTO_TEST_CASE(unreadable_ignore_file_is_an_error_for_load_checked) {
    TempDir dir;
    fs::create_directory(dir.path / ".amlignore");  // exists, but cannot be read as a file
    std::string error;
    BOOST_TEST(!IgnoreRules::load_checked(dir.path, &error).has_value());
    BOOST_TEST(error.find("cannot read ignore file") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
