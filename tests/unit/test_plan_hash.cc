// Plan hashes decide what the runtime reuses: they must be stable across runs and
// machines, change with anything that decides a result (script contents included),
// and not change with comments, formatting or run policies.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <sstream>

#include "compiler/checker.h"
#include "compiler/plan_step.h"
#include "compiler/step_renderer.h"
#include "test_support.h"

using namespace amlflow::compiler;
using amlflow::testing::TempProject;
using amlflow::testing::messages;

namespace {

const char* kPipeline =
    "param epochs: int = 2\n"
    "environment torch { python = \"python3\", pip = [\"torch\"] }\n"
    "experiment e {\n"
    "  job train { source = \"src\", script = \"train.py\", args = [\"--epochs\", epochs], environment = torch,\n"
    "              restarts = 1 }\n"
    "  register model m { path = train.outputs / \"model.pt\" }\n"
    "}\n";

std::map<std::string, std::string> hashes(const TempProject& project, const std::string& text,
                                          std::vector<std::string> sets = {}, const std::string& compute = "") {
    auto result = project.compile(text, std::move(sets), compute);
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    std::map<std::string, std::string> out;
    for (const PlanNode& node : result->plan->nodes) out[node.id] = node.hash;
    return out;
}

void write_project(const TempProject& project) {
    project.write("src/train.py", "print('train')\n");
    project.write("src/util.py", "X = 1\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plan_hash)

BOOST_AUTO_TEST_CASE(stable_across_runs_and_folders) {
    TempProject a, b;
    write_project(a);
    write_project(b);
    auto first = hashes(a, kPipeline);
    BOOST_TEST(first == hashes(a, kPipeline));
    BOOST_TEST(first == hashes(b, kPipeline));  // another absolute location: same hashes
    BOOST_TEST(first.size() == 4u);             // source, environment, train, m
}

BOOST_AUTO_TEST_CASE(unchanged_by_comments_formatting_and_policies) {
    TempProject project;
    write_project(project);
    auto base = hashes(project, kPipeline);
    std::string reformatted = std::string("// a comment\n/* another */\n") + kPipeline;
    for (size_t at = reformatted.find(", "); at != std::string::npos; at = reformatted.find(", ", at + 2)) {
        reformatted.replace(at, 2, ",\n    ");
    }
    BOOST_TEST(base == hashes(project, reformatted));
    std::string policy = kPipeline;
    policy.replace(policy.find("restarts = 1"), 12, "restarts = 5, timeout = 2h");
    BOOST_TEST(base == hashes(project, policy));
}

BOOST_AUTO_TEST_CASE(changed_by_a_script_file_and_passed_downstream) {
    TempProject project;
    write_project(project);
    auto base = hashes(project, kPipeline);
    project.write("src/util.py", "X = 2\n");
    auto changed = hashes(project, kPipeline);
    BOOST_TEST(base["source:src"] != changed["source:src"]);
    BOOST_TEST(base["step:train"] != changed["step:train"]);
    BOOST_TEST(base["step:m"] != changed["step:m"]);  // its input changed
    BOOST_TEST(base["environment:torch"] == changed["environment:torch"]);
}

BOOST_AUTO_TEST_CASE(changed_by_arguments_params_and_environment) {
    TempProject project;
    write_project(project);
    auto base = hashes(project, kPipeline);
    BOOST_TEST(base["step:train"] != hashes(project, kPipeline, {"epochs=3"})["step:train"]);
    std::string env = kPipeline;
    env.replace(env.find("[\"torch\"]"), 9, "[\"torch==1.13\"]");
    auto changed = hashes(project, env);
    BOOST_TEST(base["environment:torch"] != changed["environment:torch"]);
    BOOST_TEST(base["step:train"] != changed["step:train"]);
}

// A result is reused only from the compute it was asked to run on: the compute's identity
// (name and kind) is in a job's hash, and so in its dependents'; its fields are not.
BOOST_AUTO_TEST_CASE(changed_by_the_compute_a_job_runs_on_not_by_its_fields) {
    TempProject project;
    write_project(project);
    auto placed = [](const std::string& hosts, const std::string& where) {
        std::string text = std::string("compute here : local { cpus = 2 }\n") +
                           "compute farm : hosts { hosts = " + hosts + " }\n" + kPipeline;
        text.replace(text.find("restarts = 1"), 12, "restarts = 1, compute = " + where);
        return text;
    };
    auto base = hashes(project, kPipeline);
    auto here = hashes(project, placed("[\"a:2\"]", "here"));
    auto farm = hashes(project, placed("[\"a:2\"]", "farm"));
    BOOST_TEST(base["step:train"] != here["step:train"]);  // named: this machine is not 'here'
    BOOST_TEST(here["step:train"] != farm["step:train"]);
    BOOST_TEST(here["step:m"] != farm["step:m"]);          // its input came from elsewhere
    BOOST_TEST(here["source:src"] == farm["source:src"]);
    // The host list, ssh options and the like are where, not what: the same result.
    std::string tuned = placed("[\"b:4\", \"c:4\"]", "farm");
    tuned.insert(tuned.find("\"c:4\"]") + 6, ", ssh_port = 2222, user = \"alice\"");
    BOOST_TEST(farm == hashes(project, tuned));
    // --compute places the job as `compute = NAME` in the file does.
    BOOST_TEST(farm == hashes(project, placed("[\"a:2\"]", "here"), {}, "farm"));
    BOOST_TEST(here == hashes(project, placed("[\"a:2\"]", "farm"), {}, "here"));
}

BOOST_AUTO_TEST_CASE(ignored_files_do_not_change_the_source_hash) {
    TempProject project;
    write_project(project);
    project.write("src/.amlignore", "data/\n");
    auto base = hashes(project, kPipeline);
    project.write("src/data/big.bin", "0123456789");
    BOOST_TEST(base == hashes(project, kPipeline));
}

// The cache key of a job is its whole source folder: a README edited beside the code
// retrains. `source_include` narrows it: a file outside the patterns changes neither the
// source node's hash nor the step's; a file inside them changes both.
BOOST_AUTO_TEST_CASE(source_include_keeps_other_files_out_of_the_cache_key) {
    const std::string narrow =
        "experiment e {\n"
        "  job train { source = \"src\", script = \"train.py\", source_include = [\"*.py\", \"conf/**\"] }\n"
        "}\n";
    const std::string whole = "experiment e {\n  job train { source = \"src\", script = \"train.py\" }\n}\n";
    const std::string narrow_source = "source:src [*.py, conf/**]";
    TempProject project;
    write_project(project);
    project.write("src/README.md", "# about\n");
    project.write("src/conf/base.yaml", "lr: 0.1\n");
    auto narrow_before = hashes(project, narrow);
    auto whole_before = hashes(project, whole);
    BOOST_TEST_REQUIRE(narrow_before.count(narrow_source) == 1u);

    project.write("src/README.md", "# about, edited\n");
    auto narrow_readme = hashes(project, narrow);
    auto whole_readme = hashes(project, whole);
    BOOST_TEST(narrow_readme == narrow_before);                              // same key: reused
    BOOST_TEST(whole_readme["step:train"] != whole_before["step:train"]);    // the whole folder: retrains

    project.write("src/conf/base.yaml", "lr: 0.2\n");
    auto narrow_conf = hashes(project, narrow);
    BOOST_TEST(narrow_conf[narrow_source] != narrow_readme[narrow_source]);
    BOOST_TEST(narrow_conf["step:train"] != narrow_readme["step:train"]);

    project.write("src/util.py", "X = 2\n");  // *.py at any depth: included
    auto narrow_code = hashes(project, narrow);
    BOOST_TEST(narrow_code["step:train"] != narrow_conf["step:train"]);
}

BOOST_AUTO_TEST_CASE(json_form_is_stable_and_ordered) {
    TempProject project;
    write_project(project);
    auto first = project.compile(kPipeline);
    auto second = project.compile(kPipeline);
    BOOST_TEST_REQUIRE(first->plan.has_value());
    BOOST_TEST(plan_to_json(*first->plan).dump() == plan_to_json(*second->plan).dump());
    const auto& nodes = first->plan->nodes;
    BOOST_TEST(nodes[0].kind == "source");
    BOOST_TEST(nodes[1].kind == "environment");
    BOOST_TEST(nodes[2].id == "step:train");  // dependencies before dependents
    BOOST_TEST(nodes[3].id == "step:m");
}

// compile_file frees each step's syntax tree once the step is checked (drop_step_trees),
// keeping job templates: bindings and sweeps read their template's tree whether it is
// declared before or after them, and a later step still reads an earlier one's results.
BOOST_AUTO_TEST_CASE(steps_checked_after_earlier_trees_are_freed) {
    TempProject project;
    write_project(project);
    auto result = project.compile(
        "experiment e {\n"
        "  job early = train(lr = 0.5)\n"
        "  job train(lr: float = 0.1) { source = \"src\", script = \"train.py\", args = [\"--lr\", lr] }\n"
        "  sweep s over train { space { lr = loguniform(0.001, 0.1) }, objective = maximize(\"acc\"), trials = 2 }\n"
        "  job late = train(lr = 0.2) { args = [\"--from\", early.outputs / \"m.pt\"] }\n"
        "}\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    std::map<std::string, nlohmann::json> spec;
    for (const PlanNode& node : result->plan->nodes) spec[node.id] = node.spec();
    BOOST_TEST(spec["step:early"]["$template"]["bound"]["lr"] == 0.5);
    BOOST_TEST(spec["step:late"]["$template"]["bound"]["lr"] == 0.2);
    BOOST_TEST(spec["step:s"]["$template"]["fields"].contains("script"));
    BOOST_TEST(spec.count("step:train") == 0u);  // a template runs only when bound
    bool data_edge = false;
    for (const PlanEdge& edge : result->plan->edges) data_edge |= edge.from == "step:early" && edge.to == "step:late";
    BOOST_TEST(data_edge);
}

// A step's hash reads the hashed members of its rendered spec straight from the text
// (hashed_members): it must pick what parsing the spec and picking from the object picks,
// byte for byte, whatever the values hold (brackets, commas and quotes in strings).
BOOST_AUTO_TEST_CASE(hashed_members_pick_what_the_parsed_spec_gives) {
    TempProject project;
    write_project(project);
    auto result = project.compile(
        "experiment e {\n"
        "  job a { source = \"src\", script = \"train.py\", args = [\"},{\\\"]\", \"a,b\", 1, -3.5e-7],\n"
        "          variables = { X = \"{\\\\\" }, timeout = 5m, restarts = 2, metrics = [\"loss\"] }\n"
        "  job t(lr: float = 0.1) { source = \"src\", script = \"train.py\", args = [\"--lr\", lr] }\n"
        "  job b = t(lr = 0.5) { args = [a.outputs / \"m,}.pt\"] }\n"
        "  sweep s over t { space { lr = loguniform(0.001, 0.1) }, objective = maximize(\"acc\"), trials = 2 }\n"
        "  register model m { path = a.outputs / \"model.pt\" }\n"
        "  download d { path = a.outputs, to = \"out\" }\n"
        "}\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    size_t steps = 0;
    for (const PlanNode& node : result->plan->nodes) {
        if (node.kind == "source" || node.kind == "environment") continue;
        ++steps;
        const BlockSpec& schema = node.kind == "job" ? schema::job() : node.kind == "sweep" ? schema::sweep()
                                : node.kind == "register" ? schema::register_model() : schema::download();
        std::string picked = hashed_members(node.spec_text, schema);
        BOOST_TEST(picked == compact_json(hashed_fields(node.spec(), schema)), node.id);
        BOOST_TEST(nlohmann::json::parse(picked).is_object());
    }
    BOOST_TEST(steps == 5u);
}

// The text form reads each node's spec from its JSON text in place (json_text.h): every
// kind of value is shown as a person writes it, escapes undone, as when the specs were
// parsed first.
BOOST_AUTO_TEST_CASE(the_text_form_shows_every_kind_of_value) {
    TempProject project;
    project.write("src/train.py", "print('x')\n");
    auto result = project.compile(
        "param lr: float = 0.1\n"
        "param name: string = \"run \\\"one\\\"\"\n"
        "environment env { python = \"/usr/bin/python3\", variables = { A = \"1\" } }\n"
        "compute here : local { cpus = 2 }\n"
        "experiment e {\n"
        "  job prep {\n"
        "    source = \"src\", script = \"train.py\", environment = env, compute = here,\n"
        "    args = [\"--out\", \"a \\\"q\\\" \\\\ b\", 1.5e-7, -3, true, \"${name}-${lr * 2}\"],\n"
        "    timeout = 90m, restarts = 2,\n"
        "    variables = { \"MY VAR\" = \"x${lr}\", B = \"café\\ttab\" },\n"
        "    distribution = pytorch { processes_per_node = 2 },\n"
        "    tags = { team = \"ml\" }\n"
        "  }\n"
        "  job t(lr: float = 0.1) { source = \"src\", script = \"train.py\", args = [\"--lr\", lr, \"--data\", prep.outputs / \"d\"], metrics = [\"acc\"] }\n"
        "  job b = t(lr = 0.5) { after = [prep], args = [\"--in=${prep.outputs}/x\", prep.outputs, 1KB, 2h] }\n"
        "  sweep s over t { space { lr = loguniform(0.001, 0.1) }, objective = maximize(\"acc\"), trials = 2 }\n"
        "  register model m { name = \"m\", path = s.best.outputs / \"model.pt\", tags = { k = \"v\" } }\n"
        "  download d { path = b.outputs, to = \"out\" }\n"
        "}\n");
    BOOST_TEST_REQUIRE(result->ok(), messages(result->diagnostics));
    std::string text = plan_to_text(*result->plan);
    std::string without_hashes;
    for (size_t at = 0; at < text.size(); ++at) {
        without_hashes += text[at];
        if (text[at] == '#' && at + 12 < text.size()) {
            without_hashes += "HASH";
            at += 12;
        }
    }
    BOOST_TEST(without_hashes ==
        "plan for main.amlflow\n"
        "params: lr=0.1 name=run \"one\"\n"
        "\n"
        "1. job prep  (experiment e)  #HASH\n"
        "   compute: here (local)\n"
        "   args: [--out, a \"q\" \\ b, 1.5e-07, -3, true, run \"one\"-0.2]\n"
        "   distribution: pytorch { processes_per_node = 2 }\n"
        "   environment: env\n"
        "   restarts: 2\n"
        "   script: train.py\n"
        "   source: src\n"
        "   tags: { team = ml }\n"
        "   timeout: 5400s\n"
        "   variables: { B = café\ttab, MY VAR = x0.1 }\n"
        "\n"
        "2. job b  (experiment e)  #HASH\n"
        "   after: prep\n"
        "   compute: this machine (local)\n"
        "   environment: (default)\n"
        "   template: t\n"
        "   after: [prep]\n"
        "   args: [\"--in=${prep.outputs}/x\", prep.outputs, 1000B, 7200s]\n"
        "   metrics: [acc]\n"
        "   script: train.py\n"
        "   source: src\n"
        "\n"
        "3. sweep s  (experiment e)  #HASH\n"
        "   after: prep\n"
        "   compute: this machine (local)\n"
        "   environment: (default)\n"
        "   source: src\n"
        "   template: t\n"
        "   objective: maximize { metric = acc }\n"
        "   space: { lr = loguniform { high = 0.1, low = 0.001 } }\n"
        "   trials: 2\n"
        "\n"
        "4. register m  (experiment e)  #HASH\n"
        "   after: s\n"
        "   name: m\n"
        "   path: s.best.outputs/model.pt\n"
        "   tags: { k = v }\n"
        "\n"
        "5. download d  (experiment e)  #HASH\n"
        "   after: b\n"
        "   path: b.outputs\n"
        "   to: out\n"
        "\n"
        "source src: 1 file  #HASH\n"
        "environment env  #HASH\n"
        "environment (default)  #HASH\n");
}

// On a large file the checked steps are rendered on a thread of their own while the
// checker goes on (step_renderer.h): each step's rendering is the one it gets alone.
BOOST_AUTO_TEST_CASE(steps_rendered_on_a_thread_are_rendered_as_alone) {
    TempProject project;
    write_project(project);
    std::string text = "param lr: float = 0.1\nexperiment e {\n"
                       "  job t(lr: float = 0.1) { source = \"src\", script = \"train.py\", args = [\"--lr\", lr], metrics = [\"acc\"] }\n";
    for (int i = 0; i < 600; ++i) {
        std::string n = std::to_string(i);
        text += "  job j" + n + " { source = \"src\", script = \"train.py\", args = [\"--n\", " + n + ", lr * " + n +
                "], timeout = " + std::to_string(i + 1) + "m" + (i ? ", after = [j" + std::to_string(i - 1) + "]" : "") + " }\n";
        if (i % 10 == 0) text += "  job b" + n + " = t(lr = 0." + n + ")\n";
        if (i % 50 == 0) text += "  sweep s" + n + " over t { space { lr = choice(0.1, 0." + n + ") }, objective = maximize(\"acc\") }\n";
    }
    text += "}\n";
    std::string path = project.write("main.amlflow", text).string();
    auto rendered = [&](bool on_a_thread) {
        Diagnostics diagnostics;
        LoadOptions load;
        load.pack_steps = true;
        ModuleSet modules = load_modules(path, load, diagnostics);
        CheckedProgram program;  // before the renderer, as compile_file holds it
        StepRenderer renderer(on_a_thread);
        CheckOptions check;
        check.drop_step_trees = true;
        check.on_step_checked = [&renderer](CheckedStep& step) { renderer.add(step); };
        {
            Checker checker(modules, check, diagnostics);
            checker.run(program);
        }
        renderer.finish();
        BOOST_TEST(!diagnostics.has_errors(), messages(diagnostics));
        std::vector<std::string> specs;
        for (const CheckedStep& step : program.steps) {
            BOOST_TEST_REQUIRE((step.rendered != nullptr));
            BOOST_TEST(step.fields.fields.empty());  // freed once rendered
            specs.push_back(step.rendered->spec + step.rendered->hashed_template + step.rendered->template_params);
        }
        return specs;
    };
    std::vector<std::string> alone = rendered(false);
    BOOST_TEST(alone.size() == 600u + 60u + 12u);
    BOOST_TEST(rendered(true) == alone, "rendered on a thread");
}

// `plan --format json` writes the plan from its specs' text (write_plan_json): byte for
// byte what plan_to_json(...).dump(2) gives, on every example, every golden plan and an
// empty plan.
BOOST_AUTO_TEST_CASE(the_json_form_written_from_text_is_the_dumped_one) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator("examples")) {
        if (entry.path().extension() == ".amlflow") files.push_back(entry.path());
    }
    for (const auto& entry : fs::directory_iterator("tests/golden")) {
        if (entry.path().filename().string().rfind("plan-ok-", 0) == 0 && entry.path().extension() == ".amlflow") {
            files.push_back(entry.path());
        }
    }
    BOOST_TEST_REQUIRE(files.size() > 20u);
    size_t planned = 0;
    auto same = [&planned](const Plan& plan, const std::string& name) {
        std::ostringstream written;
        write_plan_json(plan, written);
        BOOST_TEST(written.str() == plan_to_json(plan).dump(2, ' ', false, nlohmann::json::error_handler_t::replace), name);
        ++planned;
    };
    for (const fs::path& file : files) {
        auto result = compile_file(file.string(), CompileOptions{});
        if (result->plan) same(*result->plan, file.string());
    }
    BOOST_TEST(planned > 20u);
    TempProject project;
    write_project(project);
    auto empty = project.compile("experiment e { }\n");  // no nodes, no edges, no params
    BOOST_TEST_REQUIRE(empty->ok(), messages(empty->diagnostics));
    same(*empty->plan, "an empty plan");
}

BOOST_AUTO_TEST_SUITE_END()
