#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "compiler/source_tree.h"

namespace fs = std::filesystem;
using amlflow::compiler::digest_source_tree;
using amlflow::compiler::source_include_matches;
using amlflow::compiler::source_include_problem;
using amlflow::compiler::SourceTreeDigest;

namespace {

// A fresh folder per test, removed when the test ends even if it fails.
struct TempDir {
    fs::path path;
    TempDir() {
        static std::atomic<int> counter{0};
        auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path = fs::temp_directory_path() /
               ("amlflow_tree_" + std::to_string(stamp) + "_" + std::to_string(counter++));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    void write(const std::string& relative, const std::string& text) const {
        fs::path file = path / relative;
        fs::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << text;
    }
};

// A small project: code, a nested package, and a data file.
void populate(const TempDir& dir) {
    dir.write("train.py", "print('train')\n");
    dir.write("pkg/__init__.py", "");
    dir.write("pkg/model.py", "class Model: pass\n");
    dir.write("data/labels.csv", "a,b\n1,2\n");
}

SourceTreeDigest digest(const TempDir& dir) {
    std::string error;
    std::optional<SourceTreeDigest> result = digest_source_tree(dir.path, &error);
    BOOST_TEST_REQUIRE(result.has_value(), "digest failed: " << error);
    return *result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(source_tree)

BOOST_AUTO_TEST_CASE(lists_files_sorted_with_sizes) {
    TempDir dir;
    populate(dir);
    SourceTreeDigest d = digest(dir);
    std::vector<std::string> expected = {"data/labels.csv", "pkg/__init__.py", "pkg/model.py",
                                         "train.py"};
    BOOST_TEST(d.files == expected, boost::test_tools::per_element());
    BOOST_TEST(d.total_bytes == 8u + 0u + 18u + 15u);
    BOOST_TEST(d.hash.size() == 64u);
    BOOST_TEST(d.ignore_origin == "");
}

BOOST_AUTO_TEST_CASE(stable_across_calls_and_locations) {
    TempDir dir;
    populate(dir);
    TempDir copy;
    fs::copy(dir.path, copy.path / "nested", fs::copy_options::recursive);
    std::string first = digest(dir).hash;
    BOOST_TEST(digest(dir).hash == first);
    std::string error;
    auto moved = digest_source_tree(copy.path / "nested", &error);
    BOOST_TEST_REQUIRE(moved.has_value());
    BOOST_TEST(moved->hash == first);
}

BOOST_AUTO_TEST_CASE(independent_of_creation_order) {
    TempDir a, b;
    a.write("x.py", "1");
    a.write("y.py", "2");
    b.write("y.py", "2");
    b.write("x.py", "1");
    BOOST_TEST(digest(a).hash == digest(b).hash);
}

BOOST_AUTO_TEST_CASE(changes_when_content_changes) {
    TempDir dir;
    populate(dir);
    std::string before = digest(dir).hash;
    dir.write("pkg/model.py", "class Model: passs\n");
    BOOST_TEST(digest(dir).hash != before);
}

BOOST_AUTO_TEST_CASE(changes_when_file_added_or_renamed) {
    TempDir dir;
    populate(dir);
    std::string original = digest(dir).hash;
    dir.write("pkg/empty.py", "");
    std::string added = digest(dir).hash;
    BOOST_TEST(added != original);
    fs::remove(dir.path / "pkg/empty.py");
    BOOST_TEST(digest(dir).hash == original);
    fs::rename(dir.path / "train.py", dir.path / "main.py");
    BOOST_TEST(digest(dir).hash != original);
}

BOOST_AUTO_TEST_CASE(moving_bytes_between_name_and_content_changes_hash) {
    // Without length prefixes, "ab" + "c" and "a" + "bc" could feed the same bytes.
    TempDir a, b;
    a.write("ab", "c");
    b.write("a", "bc");
    BOOST_TEST(digest(a).hash != digest(b).hash);
}

BOOST_AUTO_TEST_CASE(changes_when_exec_bit_changes) {
    TempDir dir;
    populate(dir);
    std::string before = digest(dir).hash;
    fs::permissions(dir.path / "train.py", fs::perms::owner_exec, fs::perm_options::add);
    std::string executable = digest(dir).hash;
    BOOST_TEST(executable != before);
    fs::permissions(dir.path / "train.py", fs::perms::owner_exec, fs::perm_options::remove);
    BOOST_TEST(digest(dir).hash == before);
}

BOOST_AUTO_TEST_CASE(unchanged_when_ignored_file_changes) {
    TempDir dir;
    populate(dir);
    dir.write(".gitignore", "*.log\noutputs/\n");
    dir.write("run.log", "first");
    dir.write("outputs/model.bin", "weights");
    SourceTreeDigest before = digest(dir);
    BOOST_TEST(before.ignore_origin == ".gitignore");
    dir.write("run.log", "second, longer");
    dir.write("outputs/model.bin", "new weights");
    dir.write("outputs/extra.bin", "more");
    SourceTreeDigest after = digest(dir);
    BOOST_TEST(after.hash == before.hash);
    for (const std::string& file : after.files) {
        BOOST_TEST(file.find(".log") == std::string::npos);
        BOOST_TEST(file.rfind("outputs/", 0) == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(amlignore_takes_precedence_over_gitignore) {
    TempDir dir;
    populate(dir);
    dir.write(".gitignore", "*.csv\n");
    dir.write(".amlignore", "pkg/\n");
    SourceTreeDigest d = digest(dir);
    BOOST_TEST(d.ignore_origin == ".amlignore");
    std::vector<std::string> expected = {".amlignore", ".gitignore", "data/labels.csv",
                                         "train.py"};
    BOOST_TEST(d.files == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(always_skipped_entries) {
    TempDir dir;
    populate(dir);
    std::string before = digest(dir).hash;
    dir.write(".git/HEAD", "ref: refs/heads/main\n");
    dir.write("pkg/__pycache__/model.cpython-311.pyc", "bytecode");
    dir.write("pkg/stale.pyc", "bytecode");
    dir.write(".amlflow/cache/x", "cache");
    dir.write("notebooks/.ipynb_checkpoints/a.ipynb", "{}");
    SourceTreeDigest after = digest(dir);
    BOOST_TEST(after.hash == before);
    BOOST_TEST(after.files.size() == 4u);
}

BOOST_AUTO_TEST_CASE(symlinks_are_not_followed) {
    TempDir dir;
    populate(dir);
    TempDir outside;
    outside.write("big.bin", "outside content");
    fs::create_symlink(outside.path, dir.path / "linked_dir");
    fs::create_symlink("train.py", dir.path / "alias.py");
    SourceTreeDigest d = digest(dir);
    std::vector<std::string> expected = {"alias.py", "data/labels.csv", "linked_dir",
                                         "pkg/__init__.py", "pkg/model.py", "train.py"};
    BOOST_TEST(d.files == expected, boost::test_tools::per_element());
    std::string before = d.hash;
    // Content behind a link does not matter; the link's target text does.
    outside.write("big.bin", "changed outside");
    BOOST_TEST(digest(dir).hash == before);
    fs::remove(dir.path / "alias.py");
    fs::create_symlink("pkg/model.py", dir.path / "alias.py");
    BOOST_TEST(digest(dir).hash != before);
}

BOOST_AUTO_TEST_CASE(empty_directory_does_not_count) {
    TempDir dir;
    populate(dir);
    std::string before = digest(dir).hash;
    fs::create_directories(dir.path / "empty/inner");
    BOOST_TEST(digest(dir).hash == before);
}

BOOST_AUTO_TEST_CASE(large_file_read_in_chunks) {
    TempDir dir;
    std::string big(3 * 65536 + 17, 'z');
    dir.write("big.bin", big);
    SourceTreeDigest d = digest(dir);
    BOOST_TEST(d.total_bytes == big.size());
    dir.write("big.bin", big.substr(0, big.size() - 1) + "y");
    BOOST_TEST(digest(dir).hash != d.hash);
}

BOOST_AUTO_TEST_CASE(missing_root_is_an_error) {
    TempDir dir;
    std::string error;
    BOOST_TEST(!digest_source_tree(dir.path / "nope", &error).has_value());
    BOOST_TEST(error.find("not a directory") != std::string::npos);
    dir.write("file.txt", "x");
    error.clear();
    BOOST_TEST(!digest_source_tree(dir.path / "file.txt", &error).has_value());
    BOOST_TEST(!error.empty());
    BOOST_TEST(!digest_source_tree(dir.path / "nope", nullptr).has_value());
}

BOOST_AUTO_TEST_CASE(unreadable_file_is_an_error_unless_ignored) {
    if (::geteuid() == 0) return;  // root reads everything: the failure cannot be staged
    TempDir dir;
    populate(dir);
    dir.write("secret.key", "k");
    fs::permissions(dir.path / "secret.key", fs::perms::none, fs::perm_options::replace);
    std::string error;
    BOOST_TEST(!digest_source_tree(dir.path, &error).has_value());
    BOOST_TEST(error.find("cannot read file") != std::string::npos);
    dir.write(".amlignore", "*.key\n");
    BOOST_TEST(digest_source_tree(dir.path, &error).has_value());
}

BOOST_AUTO_TEST_CASE(unreadable_ignored_directory_is_not_opened) {
    if (::geteuid() == 0) return;
    TempDir dir;
    populate(dir);
    dir.write("locked/x", "x");
    fs::permissions(dir.path / "locked", fs::perms::none, fs::perm_options::replace);
    std::string error;
    BOOST_TEST(!digest_source_tree(dir.path, &error).has_value());
    BOOST_TEST(error.find("cannot list directory") != std::string::npos);
    dir.write(".gitignore", "locked/\n");
    BOOST_TEST(digest_source_tree(dir.path, &error).has_value());
    fs::permissions(dir.path / "locked", fs::perms::owner_all, fs::perm_options::replace);
}

// `source_include`: names at any depth without a '/', paths from the root with one, a
// matched folder takes in what it holds, a trailing '/' matches folders only.
BOOST_AUTO_TEST_CASE(source_include_patterns_match_as_documented) {
    const std::vector<std::string> code = {"*.py"};
    BOOST_TEST(source_include_matches(code, "train.py"));
    BOOST_TEST(source_include_matches(code, "pkg/model.py"));
    BOOST_TEST(!source_include_matches(code, "README.md"));
    const std::vector<std::string> conf = {"conf/**"};
    BOOST_TEST(source_include_matches(conf, "conf/base.yaml"));
    BOOST_TEST(source_include_matches(conf, "conf/deep/x.yaml"));
    BOOST_TEST(!source_include_matches(conf, "other/conf/base.yaml"));
    BOOST_TEST(!source_include_matches(conf, "conf.yaml"));
    const std::vector<std::string> folder = {"data/"};
    BOOST_TEST(source_include_matches(folder, "data/labels.csv"));
    BOOST_TEST(!source_include_matches(folder, "data"));  // a file named data is no folder
    const std::vector<std::string> dotted = {"./pkg/*.py"};
    BOOST_TEST(source_include_matches(dotted, "pkg/model.py"));
    BOOST_TEST(!source_include_matches(dotted, "pkg/sub/model.py"));
    BOOST_TEST(source_include_problem("*.py") == "");
    BOOST_TEST(source_include_problem("") != "");
    BOOST_TEST(source_include_problem("/abs/*.py") != "");
    BOOST_TEST(source_include_problem("a/../../b") != "");
}

// The digest holds only included files, and files outside the patterns do not change it.
BOOST_AUTO_TEST_CASE(include_narrows_the_digest) {
    TempDir dir;
    populate(dir);
    dir.write("README.md", "# readme\n");
    std::string error;
    auto narrow = digest_source_tree(dir.path, &error, {"*.py"});
    BOOST_TEST_REQUIRE(narrow.has_value(), error);
    BOOST_TEST(narrow->files == (std::vector<std::string>{"pkg/__init__.py", "pkg/model.py", "train.py"}));
    dir.write("README.md", "# readme, edited\n");
    dir.write("data/labels.csv", "a,b\n3,4\n");
    auto again = digest_source_tree(dir.path, &error, {"*.py"});
    BOOST_TEST_REQUIRE(again.has_value(), error);
    BOOST_TEST(again->hash == narrow->hash);
    dir.write("pkg/model.py", "class Model: pass  # edited\n");
    auto edited = digest_source_tree(dir.path, &error, {"*.py"});
    BOOST_TEST_REQUIRE(edited.has_value(), error);
    BOOST_TEST(edited->hash != narrow->hash);
    BOOST_TEST(digest(dir).files.size() == 5u);  // no include: every file
}

BOOST_AUTO_TEST_SUITE_END()
