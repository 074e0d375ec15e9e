#include <boost/test/unit_test.hpp>

// Files between steps: output references resolved against step results, paths kept
// inside their folders (`..`, absolute paths, symlinks out), content digests of files and
// folders, and copies that refuse before writing anything.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/core/artifacts.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using amlflow::testing::TempProject;
using nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

json output_ref(const std::string& step, std::vector<std::string> result, const std::string& path = "") {
    json out = {{"step", step}, {"result", result}};
    if (!path.empty()) out["path"] = path;
    return json{{"$output", out}};
}

ContentDigest digest(const fs::path& path) {
    std::string error;
    auto result = content_digest(path, &error);
    BOOST_TEST_REQUIRE(result.has_value(), error);
    return *result;
}

// Whether any file below `folder` has the partial-copy suffix.
bool has_partial(const fs::path& folder) {
    for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (contains(entry.path().filename().string(), ".amlflow-partial")) return true;
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(artifacts)

BOOST_AUTO_TEST_CASE(relative_paths_must_stay_below_their_base) {
    BOOST_TEST(is_contained_relative("model.pt"));
    BOOST_TEST(is_contained_relative("a/b/c.txt"));
    BOOST_TEST(is_contained_relative("./a/./b"));
    BOOST_TEST(is_contained_relative("a/../b"));
    BOOST_TEST(is_contained_relative("a/.."));
    BOOST_TEST(is_contained_relative(""));  // the base itself: resolve_output's "no sub-path"
    BOOST_TEST(!is_contained_relative(".."));
    BOOST_TEST(!is_contained_relative("../x"));
    BOOST_TEST(!is_contained_relative("a/../../x"));
    BOOST_TEST(!is_contained_relative("./.."));
    BOOST_TEST(!is_contained_relative("/etc/passwd"));
}

BOOST_AUTO_TEST_CASE(an_output_reference_resolves_against_the_joined_result) {
    StepResults results = {{"train", {{"outputs", "/runs/r1/train/outputs"}}},
                           {"tune", {{"best.outputs", "/runs/r1/tune[3]/outputs"}}}};
    std::string error;
    auto whole = resolve_output(output_ref("train", {"outputs"}), results, &error);
    BOOST_TEST_REQUIRE(whole.has_value(), error);
    BOOST_TEST(whole->path == fs::path("/runs/r1/train/outputs"));
    BOOST_TEST(whole->root == fs::path("/runs/r1/train/outputs"));
    BOOST_TEST(whole->step == "train");
    BOOST_TEST(whole->shown == "train.outputs");

    auto best = resolve_output(output_ref("tune", {"best", "outputs"}, "ckpt/./model.pt"), results, &error);
    BOOST_TEST_REQUIRE(best.has_value(), error);
    BOOST_TEST(best->path == fs::path("/runs/r1/tune[3]/outputs/ckpt/model.pt"));
    BOOST_TEST(best->root == fs::path("/runs/r1/tune[3]/outputs"));
    BOOST_TEST(best->shown == "tune.best.outputs / \"ckpt/./model.pt\"");
}

BOOST_AUTO_TEST_CASE(an_output_reference_fails_for_a_missing_result_or_an_escaping_path) {
    StepResults results = {{"train", {{"outputs", "/runs/r1/train/outputs"}}}};
    std::string error;
    BOOST_TEST(!resolve_output(output_ref("eval", {"outputs"}), results, &error));
    BOOST_TEST(error == "the result 'eval.outputs' is not available");
    BOOST_TEST(!resolve_output(output_ref("train", {"logs"}), results, &error));
    BOOST_TEST(error == "the result 'train.logs' is not available");
    BOOST_TEST(!resolve_output(output_ref("train", {"outputs"}, "../../secrets"), results, &error));
    BOOST_TEST(contains(error, "'../../secrets'"), error);
    BOOST_TEST(contains(error, "leaves the outputs of step 'train'"), error);
    BOOST_TEST(!resolve_output(output_ref("train", {"outputs"}, "/etc/passwd"), results, &error));
    BOOST_TEST(contains(error, "'/etc/passwd'"), error);
}

BOOST_AUTO_TEST_CASE(only_a_well_formed_output_value_is_a_reference) {
    BOOST_TEST(is_output_reference(output_ref("train", {"outputs"})));
    BOOST_TEST(is_output_reference(output_ref("tune", {"best", "outputs"}, "m.pt")));
    json extra = output_ref("train", {"outputs"});
    extra["other"] = 1;  // a user's map that happens to have "$output"
    BOOST_TEST(!is_output_reference(extra));
    BOOST_TEST(!is_output_reference(json{{"$output", "train.outputs"}}));
    BOOST_TEST(!is_output_reference(json{{"$output", {{"result", {"outputs"}}}}}));
    BOOST_TEST(!is_output_reference(json{{"$output", {{"step", "train"}}}}));
    BOOST_TEST(!is_output_reference(json{{"$output", {{"step", "train"}, {"result", {"outputs", 3}}}}}));
    BOOST_TEST(!is_output_reference(json{{"$output", {{"step", "train"}, {"result", {"outputs"}}, {"path", 7}}}}));
    BOOST_TEST(!is_output_reference(json("train.outputs")));
    std::string error;
    StepResults results = {{"train", {{"outputs", "/o"}}}};
    BOOST_TEST(!resolve_output(json{{"$output", {{"step", 5}}}}, results, &error));  // no throw
    BOOST_TEST(contains(error, "is not a step result"), error);
}

BOOST_AUTO_TEST_CASE(require_inside_checks_existence_and_symlinks) {
    TempProject project;
    fs::path root = project.root() / "outputs";
    project.write("outputs/model.pt", "weights");
    project.write("outside/secret.txt", "secret");
    fs::create_symlink(project.root() / "outside" / "secret.txt", root / "leak.txt");
    fs::create_symlink(root / "model.pt", root / "alias.pt");
    std::string error;
    BOOST_TEST(require_inside(root / "model.pt", root, "train.outputs / \"model.pt\"", &error), error);
    BOOST_TEST(require_inside(root / "alias.pt", root, "alias", &error), error);
    BOOST_TEST(require_inside(root, root, "train.outputs", &error), error);

    BOOST_TEST(!require_inside(root / "missing.pt", root, "train.outputs / \"missing.pt\"", &error));
    BOOST_TEST(contains(error, "train.outputs / \"missing.pt\" does not exist"), error);

    BOOST_TEST(!require_inside(root / "leak.txt", root, "train.outputs / \"leak.txt\"", &error));
    BOOST_TEST(contains(error, "train.outputs / \"leak.txt\" leaves its folder through a symlink"), error);
    BOOST_TEST(contains(error, "secret.txt"), error);
}

BOOST_AUTO_TEST_CASE(a_file_digest_is_the_sha256_of_its_bytes) {
    TempProject project;
    fs::path file = project.write("a.txt", "abc");
    ContentDigest d = digest(file);
    BOOST_TEST(d.hash == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(d.bytes == 3);
    BOOST_TEST(d.files == 1);
    project.write("a.txt", "abd");
    BOOST_TEST(digest(file).hash != d.hash);
}

BOOST_AUTO_TEST_CASE(a_folder_digest_is_stable_and_follows_content_and_names) {
    TempProject project;
    project.write("m/weights.bin", "0123456789");
    project.write("m/config/params.json", "{}");
    fs::path folder = project.root() / "m";
    ContentDigest first = digest(folder);
    BOOST_TEST(first.files == 2);
    BOOST_TEST(first.bytes == 12);
    BOOST_TEST(first.hash.size() == 64u);
    BOOST_TEST(digest(folder).hash == first.hash);

    // The same tree elsewhere has the same digest: it depends on relative paths only.
    project.write("copy/weights.bin", "0123456789");
    project.write("copy/config/params.json", "{}");
    BOOST_TEST(digest(project.root() / "copy").hash == first.hash);

    project.write("m/weights.bin", "0123456780");
    std::string changed_content = digest(folder).hash;
    BOOST_TEST(changed_content != first.hash);

    fs::rename(folder / "weights.bin", folder / "weights2.bin");
    std::string changed_name = digest(folder).hash;
    BOOST_TEST(changed_name != changed_content);
    BOOST_TEST(digest(folder).files == 2);

    project.write("m/extra.txt", "");
    BOOST_TEST(digest(folder).hash != changed_name);
    BOOST_TEST(digest(folder).files == 3);
}

BOOST_AUTO_TEST_CASE(a_folder_digest_follows_symlinks_inside_and_refuses_ones_outside) {
    TempProject project;
    project.write("m/weights.bin", "w");
    project.write("plain/weights.bin", "w");
    project.write("plain/alias.bin", "w");
    fs::create_symlink(project.root() / "m" / "weights.bin", project.root() / "m" / "alias.bin");
    // Hashed as what it points to: the same as a plain copy.
    BOOST_TEST(digest(project.root() / "m").hash == digest(project.root() / "plain").hash);

    project.write("outside.txt", "secret");
    fs::create_symlink(project.root() / "outside.txt", project.root() / "m" / "leak.txt");
    std::string error;
    BOOST_TEST(!content_digest(project.root() / "m", &error));
    BOOST_TEST(contains(error, "the symlink 'leak.txt'"), error);
    BOOST_TEST(contains(error, "points outside it"), error);
}

BOOST_AUTO_TEST_CASE(special_files_are_refused) {
    TempProject project;
    project.write("m/weights.bin", "w");
    fs::path fifo = project.root() / "m" / "pipe";
    BOOST_TEST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    std::string error;
    BOOST_TEST(!content_digest(project.root() / "m", &error));
    BOOST_TEST(contains(error, "'pipe'"), error);
    BOOST_TEST(contains(error, "is not a regular file"), error);
    BOOST_TEST(!content_digest(fifo, &error));
    BOOST_TEST(contains(error, "is neither a file nor a folder"), error);
    BOOST_TEST(!content_digest(project.root() / "missing", &error));
    BOOST_TEST(!copy_confined(project.root() / "m", project.root() / "to", false, &error));
    BOOST_TEST(contains(error, "'pipe'"), error);
    BOOST_TEST(!fs::exists(project.root() / "to" / "weights.bin"));
}

BOOST_AUTO_TEST_CASE(an_input_fingerprint_follows_what_a_step_would_read) {
    TempProject project;
    fs::path file = project.write("data.csv", "abc");
    BOOST_TEST(input_fingerprint(file) ==
               "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(input_fingerprint(project.root() / "missing") == "absent");

    project.write("set/a.txt", "1");
    project.write("set/sub/b.txt", "22");
    fs::path folder = project.root() / "set";
    std::string first = input_fingerprint(folder);
    BOOST_TEST(first.rfind("folder:", 0) == 0u, first);
    BOOST_TEST(input_fingerprint(folder) == first);
    project.write("set/c.txt", "333");
    std::string added = input_fingerprint(folder);
    BOOST_TEST(added != first);
    project.write("set/c.txt", "3333");  // another size
    BOOST_TEST(input_fingerprint(folder) != added);
}

BOOST_AUTO_TEST_CASE(copying_a_file_and_a_folder) {
    TempProject project;
    fs::path file = project.write("from/model.pt", "weights");
    project.write("from/sub/config.json", "{\"a\": 1}");
    std::string error;
    BOOST_TEST(copy_confined(file, project.root() / "dest" / "deep" / "model.pt", false, &error), error);
    BOOST_TEST(read(project.root() / "dest" / "deep" / "model.pt") == "weights");

    BOOST_TEST(copy_confined(project.root() / "from", project.root() / "tree", false, &error), error);
    BOOST_TEST(read(project.root() / "tree" / "model.pt") == "weights");
    BOOST_TEST(read(project.root() / "tree" / "sub" / "config.json") == "{\"a\": 1}");
    BOOST_TEST(digest(project.root() / "tree").hash == digest(project.root() / "from").hash);
    BOOST_TEST(!has_partial(project.root()));
}

BOOST_AUTO_TEST_CASE(a_symlink_leaving_the_folder_is_refused_before_anything_is_copied) {
    TempProject project;
    project.write("from/a.txt", "a");
    project.write("from/z.txt", "z");
    project.write("secret.txt", "secret");
    fs::create_symlink(project.root() / "secret.txt", project.root() / "from" / "m-leak.txt");
    std::string error;
    BOOST_TEST(!copy_confined(project.root() / "from", project.root() / "to", false, &error));
    BOOST_TEST(contains(error, "'m-leak.txt'"), error);
    BOOST_TEST(contains(error, "points outside"), error);
    // "a.txt" sorts before the link: still not copied.
    BOOST_TEST(!fs::exists(project.root() / "to" / "a.txt"));
    BOOST_TEST(!fs::exists(project.root() / "to" / "m-leak.txt"));
}

BOOST_AUTO_TEST_CASE(an_existing_destination_is_kept_unless_identical_or_overwritten) {
    TempProject project;
    fs::path from = project.write("from.txt", "new");
    fs::path same = project.write("same.txt", "new");
    fs::path other = project.write("other.txt", "old");
    std::string error;
    BOOST_TEST(copy_confined(from, same, false, &error), error);  // identical: nothing to do
    BOOST_TEST(read(same) == "new");

    BOOST_TEST(!copy_confined(from, other, false, &error));
    BOOST_TEST(contains(error, "already exists with other contents"), error);
    BOOST_TEST(contains(error, "other.txt"), error);
    BOOST_TEST(read(other) == "old");

    BOOST_TEST(copy_confined(from, other, true, &error), error);
    BOOST_TEST(read(other) == "new");

    fs::create_directories(project.root() / "folder-in-the-way");
    BOOST_TEST(!copy_confined(from, project.root() / "folder-in-the-way", true, &error));
    BOOST_TEST(contains(error, "a folder is in the way"), error);
    BOOST_TEST(!has_partial(project.root()));
}

BOOST_AUTO_TEST_CASE(a_folder_copy_onto_different_files_needs_overwrite) {
    TempProject project;
    project.write("from/model.pt", "v2");
    project.write("to/model.pt", "v1");
    std::string error;
    BOOST_TEST(!copy_confined(project.root() / "from", project.root() / "to", false, &error));
    BOOST_TEST(read(project.root() / "to" / "model.pt") == "v1");
    BOOST_TEST(copy_confined(project.root() / "from", project.root() / "to", true, &error), error);
    BOOST_TEST(read(project.root() / "to" / "model.pt") == "v2");
    BOOST_TEST(!has_partial(project.root()));
}

// A symlink already inside the destination (dl/sub -> elsewhere) would carry the copy
// out of it: refused before any file is written, for folders and single files.
BOOST_AUTO_TEST_CASE(a_symlink_inside_the_destination_is_never_written_through) {
    TempProject project;
    project.write("from/a.txt", "a");
    project.write("from/sub/evil.txt", "evil");
    fs::create_directories(project.root() / "elsewhere");
    fs::create_directories(project.root() / "dl");
    fs::create_directory_symlink(project.root() / "elsewhere", project.root() / "dl" / "sub");
    std::string error;
    BOOST_TEST(!copy_confined(project.root() / "from", project.root() / "dl", false, &error));
    BOOST_TEST(contains(error, "is a symlink"), error);
    BOOST_TEST(!fs::exists(project.root() / "elsewhere" / "evil.txt"));
    BOOST_TEST(!fs::exists(project.root() / "dl" / "a.txt"));
    fs::create_symlink(project.root() / "elsewhere" / "target.txt", project.root() / "dl" / "file.txt");
    BOOST_TEST(!copy_confined(project.root() / "from" / "a.txt", project.root() / "dl" / "file.txt", true, &error));
    BOOST_TEST(!fs::exists(project.root() / "elsewhere" / "target.txt"));
}

BOOST_AUTO_TEST_SUITE_END()
