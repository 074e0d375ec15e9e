// `amlflow fmt` and format_source: the layout of small cases asserted exactly; on every
// real file (examples, stdlib, plan-ok golden cases) formatting is idempotent, keeps every
// comment and leaves the plan's hashes as they were; and the binary's exit codes.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "compiler/compile.h"
#include "compiler/formatter.h"
#include "tests/unit/test_support.h"

namespace fs = std::filesystem;
using namespace amlflow::compiler;

namespace {

fs::path source_dir() { return AMLFLOW_SOURCE_DIR; }

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string format_ok(const std::string& text) {
    FormatResult result = format_source("test.amlflow", text);
    BOOST_REQUIRE_MESSAGE(result.ok, "did not format:\n" << render_text(result.diagnostics, {}));
    return result.text;
}

// The comments of a text, found by a scanner of its own (not the formatter's lexer), with
// trailing spaces and carriage returns dropped from each of their lines.
std::vector<std::string> comments_of(const std::string& text) {
    std::vector<std::string> comments;
    auto clean = [](std::string comment) {
        std::string out, line;
        for (char c : comment + "\n") {
            if (c != '\n') {
                line += c;
                continue;
            }
            while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
            out += line + "\n";
            line.clear();
        }
        return out;
    };
    size_t i = 0;
    while (i < text.size()) {
        if (text.compare(i, 3, "\"\"\"") == 0) {
            size_t end = text.find("\"\"\"", i + 3);
            i = end == std::string::npos ? text.size() : end + 3;
        } else if (text[i] == '"') {
            for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i) i += text[i] == '\\';
            ++i;
        } else if (text.compare(i, 2, "//") == 0) {
            size_t end = std::min(text.find('\n', i), text.size());
            comments.push_back(clean(text.substr(i, end - i)));
            i = end;
        } else if (text.compare(i, 2, "/*") == 0) {
            size_t end = std::min(text.find("*/", i + 2) + 2, text.size());
            comments.push_back(clean(text.substr(i, end - i)));
            i = end;
        } else {
            ++i;
        }
    }
    std::sort(comments.begin(), comments.end());
    return comments;
}

// `// set: name=value` lines at the top of a golden case, as golden_test.cc reads them.
std::vector<std::string> sets_of(const std::string& text) {
    std::vector<std::string> sets;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line) && line.rfind("//", 0) == 0) {
        if (line.rfind("// set: ", 0) == 0) sets.push_back(line.substr(8));
    }
    return sets;
}

// Every node's hash and every edge: what the runtime caches and schedules on.
std::string plan_digest(const fs::path& path, const std::optional<std::string>& text, const std::vector<std::string>& sets) {
    CompileOptions options;
    options.main_text = text;
    options.sets = sets;
    auto result = compile_file(path.string(), options);
    BOOST_REQUIRE_MESSAGE(result->ok() && result->plan, path << ":\n" << render_text(result->diagnostics, {}));
    std::string digest;
    for (const PlanNode& node : result->plan->nodes) digest += node.id + " " + node.hash + "\n";
    for (const PlanEdge& edge : result->plan->edges) digest += edge.from + " -> " + edge.to + " " + edge.kind + "\n";
    return digest + result->plan->params.dump();
}

std::vector<fs::path> real_files() {
    std::vector<fs::path> files;
    // examples/*/*.amlflow: not deeper, where run stores (`.amlflow/`) keep snapshots.
    for (const auto& folder : fs::directory_iterator(source_dir() / "examples")) {
        if (!folder.is_directory()) continue;
        for (const auto& entry : fs::directory_iterator(folder.path())) {
            if (entry.is_regular_file() && entry.path().extension() == ".amlflow") files.push_back(entry.path());
        }
    }
    for (const auto& entry : fs::directory_iterator(source_dir() / "stdlib" / "std")) {
        if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
    }
    for (const auto& entry : fs::directory_iterator(source_dir() / "tests" / "golden")) {
        std::string name = entry.path().filename().string();
        if (name.rfind("plan-ok-", 0) == 0 && entry.path().extension() == ".amlflow") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(formatter)

BOOST_AUTO_TEST_CASE(spacing_and_indentation_become_canonical) {
    BOOST_TEST(format_ok("param  epochs:int=3\nlet x=[1,2 ,3]\nlet y = - 1*2+a . b/\"c\"\n") ==
               "param epochs: int = 3\nlet x = [1, 2, 3]\nlet y = -1 * 2 + a.b / \"c\"\n");
    BOOST_TEST(format_ok("environment torch {\npython=\"/usr/bin/python3\"\n      pip = [\"torch\"],\n"
                         " variables={ OMP_NUM_THREADS=\"1\" }\n}\n") ==
               "environment torch {\n"
               "  python    = \"/usr/bin/python3\"\n"
               "  pip       = [\"torch\"]\n"
               "  variables = { OMP_NUM_THREADS = \"1\" }\n"
               "}\n");
    // One-line blocks stay on one line, with a comma between members.
    BOOST_TEST(format_ok("compute here:local{cpus=2 gpus=none}\ncompute big : amlcompute { vm_size = \"X\", }\n") ==
               "compute here : local      { cpus = 2, gpus = none }\n"
               "compute big  : amlcompute { vm_size = \"X\" }\n");
}

BOOST_AUTO_TEST_CASE(steps_templates_and_calls) {
    BOOST_TEST(format_ok("experiment e{\njob train( lr:float=0.1 ,bs : int = 2){script=\"t.py\"\n"
                         "args=[\"--lr\",lr]}\n  sweep s over train {space{lr=loguniform( 1e-3,1e-1 )}\n"
                         "trials=4\n  early_stop = bandit{slack=0.1}}}\n") ==
               "experiment e {\n"
               "  job train(lr: float = 0.1, bs: int = 2) {\n"
               "    script = \"t.py\"\n"
               "    args   = [\"--lr\", lr]\n"
               "  }\n"
               "  sweep s over train {\n"
               "    space { lr = loguniform(1e-3, 1e-1) }\n"
               "    trials     = 4\n"
               "    early_stop = bandit { slack = 0.1 }\n"
               "  }\n"
               "}\n");
}

BOOST_AUTO_TEST_CASE(broken_lists_keep_their_lines_and_end_with_a_comma) {
    BOOST_TEST(format_ok("let a = [\"--x\", 1,\n        \"--y\", 2]\n") ==
               "let a = [\n  \"--x\", 1,\n  \"--y\", 2,\n]\n");
    BOOST_TEST(format_ok("let a = [1, 2,]\nlet b = f(\n  x = 1\n)\n") == "let a = [1, 2]\nlet b = f(\n  x = 1,\n)\n");
}

BOOST_AUTO_TEST_CASE(blank_lines_whitespace_and_line_endings) {
    // Runs of blank lines become one; none after `{` or before `}`; trailing spaces go.
    BOOST_TEST(format_ok("\n\nparam a: int = 1   \n\n\n\nparam b: int = 2\nworkspace w {\n\n  name = \"x\"\n\n}\n\n") ==
               "param a: int = 1\n\nparam b: int = 2\nworkspace w {\n  name = \"x\"\n}\n");
    BOOST_TEST(format_ok("param a: int = 1\r\n\r\n\r\nparam b: int = 2 // two\r\n") ==
               "param a: int = 1\n\nparam b: int = 2 // two\n");
    BOOST_TEST(format_ok("param a: int = 1") == "param a: int = 1\n");
    BOOST_TEST(format_ok("") == "");
    BOOST_TEST(format_ok("  \n\t\n") == "");
    BOOST_TEST(format_ok("// only a comment") == "// only a comment\n");
}

BOOST_AUTO_TEST_CASE(comments_keep_their_places) {
    std::string canonical =
        "// about the file\n"
        "experiment e {\n"
        "  job a {\n"
        "    script = \"a.py\"   // trailing, at the author's column\n"
        "    /* block */\n"
        "    // the end of the job\n"
        "  }\n"
        "\n"
        "  // the end of the steps\n"
        "}\n"
        "// the end of the file\n";
    BOOST_TEST(format_ok(canonical) == canonical);
    std::string messy =
        "// about the file\n"
        "experiment e {\n"
        "job a {\n"
        "      script = \"a.py\"   // trailing, at the author's column\n"
        "  /* block */\n"
        "// the end of the job\n"
        "    }\n\n\n"
        "        // the end of the steps\n"
        "}\n"
        "  // the end of the file";
    BOOST_TEST(format_ok(messy) ==
               "// about the file\n"
               "experiment e {\n"
               "  job a {\n"
               "    script = \"a.py\"     // trailing, at the author's column\n"
               "    /* block */\n"
               "    // the end of the job\n"
               "  }\n"
               "\n"
               "  // the end of the steps\n"
               "}\n"
               "// the end of the file\n");
    // Comments the author lined up stay lined up; one in the way of the code moves right.
    BOOST_TEST(format_ok("let a = 1      // one\nlet bb = 22    // two\nlet ccccccccccc = 3 // three\n") ==
               "let a = 1      // one\nlet bb = 22    // two\nlet ccccccccccc = 3 // three\n");
    BOOST_TEST(format_ok("workspace w { // why\n  name = \"x\" /* a */, subscription = \"y\"\n}\n") ==
               "workspace w { // why\n  name         = \"x\" /* a */\n  subscription = \"y\"\n}\n");
}

BOOST_AUTO_TEST_CASE(strings_are_kept_byte_for_byte) {
    std::string text = "let s = \"\"\"\n  indented   \n\ttab\"\"\"   // after\nlet t = \"a  b\"\n";
    BOOST_TEST(format_ok(text) == text);
    BOOST_TEST(format_ok("let s=\"\"\"x\n y \"\"\"+\"z\"\n") == "let s = \"\"\"x\n y \"\"\" + \"z\"\n");
}

BOOST_AUTO_TEST_CASE(syntax_errors_are_reported_not_formatted) {
    FormatResult result = format_source("bad.amlflow", "param a: int = \nworkspace {\n");
    BOOST_TEST(!result.ok);
    BOOST_TEST(result.text.empty());
    BOOST_TEST(result.diagnostics.has_errors());
    std::string rendered = render_text(result.diagnostics, {});
    BOOST_TEST(rendered.find("bad.amlflow:") == 0);
    BOOST_TEST(rendered.find("error:") != std::string::npos);

    BOOST_TEST(!format_source("bad.amlflow", "let a = \"open\n").ok);
    BOOST_TEST(!format_source("bad.amlflow", "/* never closed\n").ok);
    BOOST_TEST(!format_source("bad.amlflow", "let a = 1\xff\n").ok);
    BOOST_TEST(!format_source("bad.amlflow", std::string(250, '[')).ok);
}

// A literal too large for its type parses: `check` reports it, `fmt` lays the file out
// and keeps the literal as written (it used to refuse the whole file).
BOOST_AUTO_TEST_CASE(literals_too_large_for_their_type_are_formatted_not_refused) {
    std::string text = "param  seed:int=99999999999999999999\nlet t=999999999999999999d\n";
    FormatResult result = format_source("big.amlflow", text);
    BOOST_TEST(result.ok);
    BOOST_TEST(!result.diagnostics.has_errors());
    BOOST_TEST(result.text == "param seed: int = 99999999999999999999\nlet t = 999999999999999999d\n");
    BOOST_TEST(!format_source("big.amlflow", "param seed: int = 99999999999999999999 +\n").ok);
}

BOOST_AUTO_TEST_CASE(real_files_are_idempotent_keep_comments_and_plans) {
    std::vector<fs::path> files = real_files();
    BOOST_TEST(files.size() >= 20u);  // 7 examples, the stdlib, 14 golden cases
    for (const fs::path& path : files) {
        BOOST_TEST_CONTEXT(path.string()) {
            std::string original = read(path);
            FormatResult once = format_source(path.string(), original);
            BOOST_REQUIRE(once.ok);
            FormatResult twice = format_source(path.string(), once.text);
            BOOST_REQUIRE(twice.ok);
            BOOST_TEST(twice.text == once.text);
            BOOST_TEST(comments_of(once.text) == comments_of(original), boost::test_tools::per_element());
            if (path.parent_path().filename() == "std") continue;  // a module: no plan of its own
            std::vector<std::string> sets = sets_of(original);
            BOOST_TEST(plan_digest(path, once.text, sets) == plan_digest(path, std::nullopt, sets));
        }
    }
}

// The examples and the stdlib are kept formatted (`amlflow fmt examples/*/*.amlflow`).
BOOST_AUTO_TEST_CASE(examples_and_stdlib_are_formatted) {
    for (const fs::path& path : real_files()) {
        if (path.parent_path().parent_path().filename() == "golden" || path.parent_path().filename() == "golden") continue;
        BOOST_TEST_CONTEXT(path.string()) { BOOST_TEST(format_ok(read(path)) == read(path)); }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------
// The binary

namespace {

struct Ran {
    int status = -1;
    std::string out, err;
};

Ran run_amlflow(const amlflow::testing::TempProject& project, const std::string& arguments,
                const std::string& stdin_text = "") {
    const char* bin = std::getenv("AMLFLOW_BIN");
    BOOST_REQUIRE_MESSAGE(bin && fs::exists(bin), "AMLFLOW_BIN must name the amlflow binary");
    fs::path in = project.write("stdin.txt", stdin_text);
    fs::path out = project.root() / "stdout.txt", err = project.root() / "stderr.txt";
    std::string command = "'" + std::string(bin) + "' " + arguments + " <'" + in.string() + "' >'" + out.string() +
                          "' 2>'" + err.string() + "'";
    int raw = std::system(command.c_str());
    Ran ran;
    ran.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    ran.out = read(out);
    ran.err = read(err);
    return ran;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fmt_command)

BOOST_AUTO_TEST_CASE(check_lists_rewrite_formats_and_errors_are_left_alone) {
    amlflow::testing::TempProject project;
    std::string messy = "param  a:int=1\n";
    fs::path good = project.write("good.amlflow", "param a: int = 1\n");
    fs::path bad = project.write("messy.amlflow", messy);
    fs::path broken = project.write("broken.amlflow", "param a: int =\n");

    Ran clean = run_amlflow(project, "fmt --check '" + good.string() + "'");
    BOOST_TEST(clean.status == 0);
    BOOST_TEST(clean.out == "");

    Ran check = run_amlflow(project, "fmt --check '" + good.string() + "' '" + bad.string() + "'");
    BOOST_TEST(check.status == 1);
    BOOST_TEST(check.out == bad.string() + "\n");
    BOOST_TEST(read(bad) == messy);  // --check writes nothing

    Ran write = run_amlflow(project, "fmt '" + good.string() + "' '" + bad.string() + "'");
    BOOST_TEST(write.status == 0);
    BOOST_TEST(write.out == "formatted " + bad.string() + "\n");
    BOOST_TEST(read(bad) == "param a: int = 1\n");
    BOOST_TEST(run_amlflow(project, "fmt --check '" + bad.string() + "'").status == 0);
    std::vector<std::string> leftovers;
    for (const auto& entry : fs::directory_iterator(project.root())) {
        if (entry.path().filename().string().find(".fmt-") != std::string::npos) leftovers.push_back(entry.path());
    }
    BOOST_TEST(leftovers.empty());

    Ran error = run_amlflow(project, "fmt '" + broken.string() + "'");
    BOOST_TEST(error.status == 1);
    BOOST_TEST(error.err.find(broken.string() + ":1:15: error: expected a value") == 0);
    BOOST_TEST(read(broken) == "param a: int =\n");

    BOOST_TEST(run_amlflow(project, "fmt '" + (project.root() / "missing.amlflow").string() + "'").status == 64);
}

// The rewrite renames a new file over the old one, which only needs the folder to be
// writable: a read-only file must be refused, not replaced. (root may write any file, so
// there the rewrite is right and only the symbolic link half is checked.)
BOOST_AUTO_TEST_CASE(read_only_files_are_left_alone_and_links_keep_pointing) {
    amlflow::testing::TempProject project;
    std::string messy = "param  a:int=1\n";
    fs::path locked = project.write("locked.amlflow", messy);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    Ran ran = run_amlflow(project, "fmt '" + locked.string() + "'");
    if (::geteuid() != 0) {
        BOOST_TEST(ran.status == 1);
        BOOST_TEST(ran.err.find("cannot write '" + locked.string() + "'") != std::string::npos);
        BOOST_TEST(read(locked) == messy);
    } else {
        BOOST_TEST(ran.status == 0);
    }
    fs::path real = project.write("real.amlflow", messy);
    fs::path link = project.root() / "link.amlflow";
    fs::create_symlink(real, link);
    BOOST_TEST(run_amlflow(project, "fmt '" + link.string() + "'").status == 0);
    BOOST_TEST(fs::is_symlink(link));
    BOOST_TEST(read(real) == "param a: int = 1\n");
}

BOOST_AUTO_TEST_CASE(standard_input_to_standard_output) {
    amlflow::testing::TempProject project;
    Ran piped = run_amlflow(project, "fmt -", "let  x=[1,2]");
    BOOST_TEST(piped.status == 0);
    BOOST_TEST(piped.out == "let x = [1, 2]\n");
    Ran implicit = run_amlflow(project, "fmt", "let x = 1\n");
    BOOST_TEST(implicit.status == 0);
    BOOST_TEST(implicit.out == "let x = 1\n");
    Ran check = run_amlflow(project, "fmt --check -", "let  x = 1\n");
    BOOST_TEST(check.status == 1);
    BOOST_TEST(check.out == "<stdin>\n");
    Ran broken = run_amlflow(project, "fmt", "let x = \n");
    BOOST_TEST(broken.status == 1);
    BOOST_TEST(broken.out == "");
    BOOST_TEST(broken.err.find("<stdin>:") == 0);
}

// A folder stands for every .amlflow file under it, at any depth, in sorted order; hidden
// folders (.git, the .amlflow run store) and other files are left alone.
BOOST_AUTO_TEST_CASE(folders_are_formatted_recursively) {
    amlflow::testing::TempProject project;
    std::string messy = "param  a:int=1\n";
    std::string tidy = "param a: int = 1\n";
    fs::path top = project.write("pipelines/top.amlflow", messy);
    fs::path nested = project.write("pipelines/deep/er/nested.amlflow", messy);
    fs::path clean = project.write("pipelines/clean.amlflow", tidy);
    fs::path stored = project.write("pipelines/.amlflow/runs/x/plan.amlflow", messy);
    fs::path hidden = project.write("pipelines/.git/x.amlflow", messy);
    fs::path other = project.write("pipelines/notes.txt", messy);
    std::string folder = (project.root() / "pipelines").string();

    Ran check = run_amlflow(project, "fmt --check '" + folder + "'");
    BOOST_TEST(check.status == 1, check.err);
    BOOST_TEST(check.out == nested.string() + "\n" + top.string() + "\n");
    BOOST_TEST(read(top) == messy);

    Ran write = run_amlflow(project, "fmt '" + folder + "'");
    BOOST_TEST(write.status == 0, write.err);
    BOOST_TEST(write.out == "formatted " + nested.string() + "\nformatted " + top.string() + "\n");
    BOOST_TEST(read(top) == tidy);
    BOOST_TEST(read(nested) == tidy);
    BOOST_TEST(read(clean) == tidy);
    BOOST_TEST(read(stored) == messy);
    BOOST_TEST(read(hidden) == messy);
    BOOST_TEST(read(other) == messy);
    BOOST_TEST(run_amlflow(project, "fmt --check '" + folder + "'").status == 0);

    // A folder with no .amlflow file: said, and nothing to fail.
    project.write("empty/readme.txt", "");
    Ran none = run_amlflow(project, "fmt --check '" + (project.root() / "empty").string() + "'");
    BOOST_TEST(none.status == 0);
    BOOST_TEST(none.err.find("no .amlflow files under") != std::string::npos, none.err);
}

BOOST_AUTO_TEST_SUITE_END()
