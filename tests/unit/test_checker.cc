#include <boost/test/unit_test.hpp>

#include "test_support.h"

using namespace amlflow::compiler;
using amlflow::testing::TempProject;
using amlflow::testing::has_message;
using amlflow::testing::messages;

namespace {

const char* kScript = "print('hi')\n";

const Diagnostic* first_error(const Diagnostics& diagnostics) {
    for (const Diagnostic& d : diagnostics.all()) {
        if (d.severity == Severity::Error) return &d;
    }
    return nullptr;
}

std::string help_of(const Diagnostic& d) {
    for (const DiagnosticNote& n : d.notes) {
        if (n.kind == DiagnosticNote::Kind::Help) return n.message;
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resolver)

BOOST_AUTO_TEST_CASE(unknown_names_suggest_the_nearest_declaration) {
    TempProject project;
    project.write("t.py", kScript);
    auto result = project.compile("environment torch { }\nexperiment e { job j { script = \"t.py\", environment = trch } }\n");
    const Diagnostic* d = first_error(result->diagnostics);
    BOOST_TEST_REQUIRE(d != nullptr);
    BOOST_TEST(d->code == "unknown-name");
    BOOST_TEST(d->message == "unknown name 'trch'");
    BOOST_TEST(help_of(*d) == "did you mean 'torch'?");
}

BOOST_AUTO_TEST_CASE(imported_declarations_are_reached_through_the_alias) {
    TempProject project;
    project.write("t.py", kScript);
    project.write("lib/common.amlflow", "environment base { python = \"python3.11\" }\n");
    auto result = project.compile("import \"lib/common.amlflow\" as c\n"
                                  "experiment e { job j { script = \"t.py\", environment = c.base } }\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    const auto* env = amlflow::testing::node(*result->plan, "environment:c.base");
    BOOST_TEST_REQUIRE(env != nullptr);
    BOOST_TEST(env->spec()["python"] == "python3.11");
}

BOOST_AUTO_TEST_CASE(stdlib_curated_environments_resolve) {
    TempProject project;
    project.write("t.py", kScript);
    auto result = project.compile("import \"std/curated\"\n"
                                  "experiment e { job j { script = \"t.py\", environment = curated.local_torch } }\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    BOOST_TEST(amlflow::testing::node(*result->plan, "environment:curated.local_torch") != nullptr);
}

BOOST_AUTO_TEST_CASE(import_cycles_are_reported_with_the_chain) {
    TempProject project;
    project.write("a.amlflow", "import \"b.amlflow\"\n");
    project.write("b.amlflow", "import \"a.amlflow\"\n");
    auto result = project.compile("import \"a.amlflow\"\n");
    BOOST_TEST(has_message(result->diagnostics, "import cycle:"));
}

BOOST_AUTO_TEST_CASE(let_cycles_are_reported_not_looped) {
    TempProject project;
    auto result = project.compile("let a = b\nlet b = a\n");
    BOOST_TEST(has_message(result->diagnostics, "defined in terms of itself"));
}

BOOST_AUTO_TEST_CASE(duplicate_declarations_point_at_the_first) {
    TempProject project;
    auto result = project.compile("let a = 1\nparam a: int = 2\n");
    const Diagnostic* d = first_error(result->diagnostics);
    BOOST_TEST_REQUIRE(d != nullptr);
    BOOST_TEST(d->code == "duplicate");
    BOOST_TEST_REQUIRE(!d->notes.empty());
    BOOST_TEST(d->notes[0].range.start().line == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(checker)

BOOST_AUTO_TEST_CASE(set_overrides_a_param_with_its_type) {
    TempProject project;
    project.write("t.py", kScript);
    auto result = project.compile("param epochs: int = 3\nexperiment e { job j { script = \"t.py\", args = [epochs] } }\n",
                                  {"epochs=7"});
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    BOOST_TEST(result->plan->params["epochs"] == 7);
    BOOST_TEST(amlflow::testing::node(*result->plan, "step:j")->spec()["args"][0] == 7);
}

BOOST_AUTO_TEST_CASE(set_of_an_unknown_param_suggests_one_and_points_into_the_set) {
    TempProject project;
    auto result = project.compile("param epochs: int = 3\n", {"epoch=7"});
    const Diagnostic* d = first_error(result->diagnostics);
    BOOST_TEST_REQUIRE(d != nullptr);
    BOOST_TEST(d->message == "unknown param 'epoch'");
    BOOST_TEST(d->range.file->path() == "--set");
    BOOST_TEST(std::string(d->range.text()) == "epoch");
    BOOST_TEST(help_of(*d) == "did you mean 'epochs'?");
}

BOOST_AUTO_TEST_CASE(set_with_a_value_of_the_wrong_type_is_refused) {
    TempProject project;
    auto result = project.compile("param epochs: int = 3\n", {"epochs=many"});
    BOOST_TEST(result->diagnostics.has_errors());
}

BOOST_AUTO_TEST_CASE(field_types_are_checked_and_converted) {
    TempProject project;
    project.write("t.py", kScript);
    auto bad = project.compile("experiment e { job j { script = \"t.py\", restarts = \"3\" } }\n");
    BOOST_TEST(has_message(bad->diagnostics, "field 'restarts' of job 'j' expects an int, found a string"));
    auto good = project.compile("experiment e { job j { script = \"t.py\", variables = { N = 1 } } }\n");
    BOOST_TEST_REQUIRE(good->ok(), messages(good->diagnostics));
    BOOST_TEST(amlflow::testing::node(*good->plan, "step:j")->spec()["variables"]["N"] == "1");
}

BOOST_AUTO_TEST_CASE(missing_script_and_source_are_found_before_running) {
    TempProject project;
    project.write("src/train.py", kScript);
    auto script = project.compile("experiment e { job j { source = \"src\", script = \"tran.py\" } }\n");
    BOOST_TEST(has_message(script->diagnostics, "script 'tran.py' does not exist in 'src'"));
    auto source = project.compile("experiment e { job j { source = \"nope\", script = \"train.py\" } }\n");
    BOOST_TEST(has_message(source->diagnostics, "source folder 'nope' does not exist"));
}

BOOST_AUTO_TEST_CASE(a_distribution_larger_than_the_cluster_is_refused) {
    TempProject project;
    project.write("t.py", kScript);
    auto result = project.compile(
        "workspace w { subscription = \"s\", resource_group = \"r\", name = \"n\" }\n"
        "compute c : amlcompute { vm_size = \"STANDARD_NC6\", max_nodes = 2 }\n"
        "experiment e { job j { script = \"t.py\", compute = c, distribution = pytorch { nodes = 4 } } }\n");
    const Diagnostic* d = first_error(result->diagnostics);
    BOOST_TEST_REQUIRE(d != nullptr);
    BOOST_TEST(d->code == "capacity");
    BOOST_TEST(d->message == "job 'j' asks for 4 nodes but compute 'c' scales to at most 2");
}

BOOST_AUTO_TEST_CASE(step_references_become_edges_and_cycles_are_found) {
    TempProject project;
    project.write("t.py", kScript);
    auto ok = project.compile("experiment e {\n job a { script = \"t.py\" }\n"
                              " job b { script = \"t.py\", inputs = { m = a.outputs / \"m.pt\" } }\n"
                              " download d { path = b.outputs, to = \"out\", after = [a] }\n}\n");
    BOOST_TEST_REQUIRE(ok->ok(), messages(ok->diagnostics));
    int data = 0, after = 0;
    for (const PlanEdge& edge : ok->plan->edges) {
        if (edge.kind == "data") ++data;
        if (edge.kind == "after") ++after;
    }
    BOOST_TEST(data == 2);
    BOOST_TEST(after == 1);
    auto cycle = project.compile("experiment e {\n job a { script = \"t.py\", after = [b] }\n"
                                 " job b { script = \"t.py\", inputs = { x = a.outputs } }\n}\n");
    BOOST_TEST(has_message(cycle->diagnostics, "dependency cycle: a -> b -> a"));
}

BOOST_AUTO_TEST_CASE(templates_run_only_when_bound_and_bindings_are_typed) {
    TempProject project;
    project.write("t.py", kScript);
    auto ok = project.compile("experiment e {\n job t(lr: float = 0.1) { script = \"t.py\", args = [\"--lr\", lr] }\n"
                              " job small = t(lr = 2)\n}\n");
    BOOST_TEST_REQUIRE(ok->ok(), messages(ok->diagnostics));
    BOOST_TEST(amlflow::testing::node(*ok->plan, "step:t") == nullptr);
    const auto* small = amlflow::testing::node(*ok->plan, "step:small");
    BOOST_TEST_REQUIRE(small != nullptr);
    BOOST_TEST(small->spec()["args"][1] == 2.0);
    auto bad = project.compile("experiment e {\n job t(lr: float) { script = \"t.py\" }\n job x = t(lr = \"fast\")\n"
                               " job y = t(rate = 1)\n job z { script = \"t.py\", inputs = { m = t.outputs } }\n}\n");
    BOOST_TEST(has_message(bad->diagnostics, "parameter 'lr' of 't' is float, not a string"));
    BOOST_TEST(has_message(bad->diagnostics, "job 't' has no parameter 'rate'"));
    BOOST_TEST(has_message(bad->diagnostics, "job 't' is a template"));
}

BOOST_AUTO_TEST_CASE(sweeps_must_fit_their_template_and_report_their_objective) {
    TempProject project;
    project.write("t.py", "log('loss')\n");
    auto result = project.compile("experiment e {\n job t(lr: float, batch: int = 8) { script = \"t.py\" }\n"
                                  " sweep s over t {\n  space { lr = uniform(0.1, 0.2), batch = uniform(1, 2), rate = choice(1) }\n"
                                  "  objective = maximize(\"acc\")\n }\n}\n");
    BOOST_TEST(has_message(result->diagnostics, "job 't' has no parameter 'rate' to sweep"));
    BOOST_TEST(has_message(result->diagnostics, "parameter 'batch' is int but uniform() draws floats"));
    // The script never names 'acc', but it might build the name: a warning, never an error.
    BOOST_TEST(has_message(result->diagnostics, "cannot tell whether job 't' reports objective metric 'acc'"));
    for (const Diagnostic& d : result->diagnostics.all()) {
        if (d.code == "objective") BOOST_TEST((d.severity == Severity::Warning));
    }
}

BOOST_AUTO_TEST_CASE(every_error_of_a_file_is_reported_in_one_pass) {
    TempProject project;
    project.write("t.py", kScript);
    auto result = project.compile("experiment e {\n job a {\n  script = \"t.py\"\n  restarts = -2\n  environment = nope\n"
                                  "  tiemout = 1h\n }\n}\n");
    BOOST_TEST(result->diagnostics.error_count() == 3u, messages(result->diagnostics));
}

BOOST_AUTO_TEST_CASE(unset_env_is_a_warning_in_a_workspace_and_an_error_in_a_job) {
    TempProject project;
    project.write("t.py", kScript);
    auto result = project.compile(
        "workspace w { subscription = env(\"AMLFLOW_TEST_SURELY_UNSET\"), resource_group = \"r\", name = \"n\" }\n"
        "experiment e { job j { script = \"t.py\", variables = { T = env(\"AMLFLOW_TEST_SURELY_UNSET\") } } }\n");
    BOOST_TEST(result->diagnostics.error_count() == 1u, messages(result->diagnostics));
    BOOST_TEST(result->diagnostics.all().size() == 2u);
}

// A download into a job's own source folder would change its snapshot on every run: a
// warning, unless the folder's ignore file leaves the destination out.
BOOST_AUTO_TEST_CASE(a_download_into_a_source_folder_is_a_warning_unless_ignored) {
    TempProject project;
    project.write("t.py", kScript);
    std::string text = "experiment e {\n job a { script = \"t.py\" }\n"
                       " download d { path = a.outputs, to = \"downloads/a\" }\n}\n";
    auto warned = project.compile(text);
    BOOST_TEST(warned->ok(), messages(warned->diagnostics));
    BOOST_TEST(has_message(warned->diagnostics, "download 'd' writes into the source folder of job 'a'"),
               messages(warned->diagnostics));
    project.write(".amlignore", "downloads/\n");
    auto quiet = project.compile(text);
    BOOST_TEST(quiet->diagnostics.all().empty(), messages(quiet->diagnostics));
}

// With a plan, each step's tree is unpacked, checked and freed in turn (ast_pack.h), so
// a step's blocks may sit where an earlier step's were: a step after one with an unknown
// field is still told what it misses, exactly as `check` (no plan, no packing) tells it.
BOOST_AUTO_TEST_CASE(steps_checked_one_at_a_time_say_what_checking_all_at_once_says) {
    amlflow::testing::TempProject project;
    project.write("t.py", kScript);
    std::string text = "experiment e {\n";
    for (int i = 0; i < 40; ++i) {
        std::string n = std::to_string(i);
        text += "  job a" + n + " { scrpt = \"t.py\" }\n  job b" + n + " { args = [\"" + n + "\"] }\n";
    }
    text += "}\n";
    auto planned = project.compile(text);
    CompileOptions check_only;
    check_only.build_plan = false;
    auto checked = compile_file((project.root() / "main.amlflow").string(), check_only);
    std::string said = messages(planned->diagnostics);
    BOOST_TEST(said == messages(checked->diagnostics));
    size_t missing = 0;
    for (size_t at = said.find("needs 'script' or 'command'"); at != std::string::npos;
         at = said.find("needs 'script' or 'command'", at + 1)) {
        ++missing;
    }
    BOOST_TEST(missing == 40u);  // every b, and no a: its unknown field is the error there
}

BOOST_AUTO_TEST_SUITE_END()
