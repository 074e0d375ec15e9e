// `amlflow report`: the run report read from a real run store, rendered, and checked as
// text (escaping, every step, no outside references), then loaded in headless Chromium
// to check what its script drew; plus `amlflow plan --format dot` through Graphviz.
//
// The store is built with RunStore directly: a run whose plan has three steps, `train`
// (a failed attempt, then a success, two ranks each, metrics with a NaN), `prep` (cached
// from an earlier run) and a step whose name is an HTML injection, skipped; a metric name,
// a param and the failure's log tail carry a "</script>" injection. AMLFLOW_BIN
// names build/amlflow for the command-line tests. Chromium is started once (bounded by
// `timeout 60`); the test says so and passes when /usr/bin/chromium is absent.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/report/report_data.h"
#include "runtime/report/report_html.h"
#include "runtime/store/run_store.h"
#include "tests/unit/test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace amlflow::runtime;
using nlohmann::json;

const std::string kEvil = "</script><script>alert(1)</script>";
const std::string kEvilEscaped = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
// The store keeps step names as folder names (no '/'), so the step's injection has none.
const std::string kEvilStep = "<img src=x onerror=alert(1)>";
const std::string kEvilStepEscaped = "&lt;img src=x onerror=alert(1)&gt;";

size_t count(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
    return n;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Shell {
    int code = -1;
    std::string out;
};

// Runs `command` under /bin/sh, stdout captured (stderr too when the command says 2>&1).
Shell shell(const std::string& command) {
    Shell result;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return result;
    char buffer[65536];
    size_t got = 0;
    while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, got);
    int status = pclose(pipe);
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

std::string amlflow_bin() {
    const char* path = std::getenv("AMLFLOW_BIN");
    return path && *path ? path : "";
}

std::string plan_json() {
    auto node = [](const std::string& id, const std::string& kind, const std::string& name) {
        return json{{"id", id}, {"kind", kind}, {"name", name}, {"hash", std::string(64, 'a')}, {"spec", json::object()}};
    };
    json plan = {{"amlflow_plan", 1}, {"file", "demo.amlflow"}, {"params", {{"epochs", 3}}}};
    plan["nodes"] = {node("source:.", "source", "."), node("environment:torch", "environment", "torch"),
                     node("step:prep", "job", "prep"), node("step:train", "job", "train"),
                     node("step:" + kEvilStep, "job", kEvilStep)};
    plan["edges"] = {{{"from", "source:."}, {"to", "step:prep"}, {"kind", "source"}},
                     {{"from", "environment:torch"}, {"to", "step:train"}, {"kind", "environment"}},
                     {{"from", "step:prep"}, {"to", "step:train"}, {"kind", "data"}},
                     {{"from", "step:train"}, {"to", "step:" + kEvilStep}, {"kind", "after"}}};
    return plan.dump();
}

void add_ranks(RunStore& store, const std::string& run, int attempt, int64_t start, int exit1, int signal0) {
    for (int rank = 0; rank < 2; ++rank) {
        RankRecord record{run, "train", attempt, rank, rank, 0, 1000 + rank, start + rank * 5, 0, -1, 0, {}};
        BOOST_REQUIRE(store.add_rank(record));
        int exit_code = rank == 1 ? exit1 : (signal0 ? -1 : 0);
        BOOST_REQUIRE(store.finish_rank(run, "train", attempt, rank, exit_code, rank == 0 ? signal0 : 0, start + 900));
    }
}

void add_metrics(RunStore& store, const std::string& run, int attempt, int steps, int64_t start) {
    std::vector<MetricRecord> metrics;
    for (int rank = 0; rank < 2; ++rank) {
        for (int i = 0; i < steps; ++i) {
            double value = attempt == 0 && rank == 1 && i == steps - 1 ? std::numeric_limits<double>::quiet_NaN()
                                                                       : 2.0 / (i + 1 + attempt) + rank * 0.05;
            metrics.push_back({run, "train", attempt, rank, "loss", value, i + attempt * steps, start + i * 100});
        }
    }
    BOOST_REQUIRE(store.add_metrics(metrics));
}

// A run store holding one finished run of the plan above; the fixture of every test.
struct DemoStore {
    amlflow::testing::TempProject project;
    std::unique_ptr<RunStore> store;
    std::string run, earlier;  // `earlier` ran `prep`; `run` reuses its result

    DemoStore() {
        std::string error;
        store = RunStore::open(project.root() / "store", &error);
        BOOST_REQUIRE_MESSAGE(store, error);
        earlier = store->create_run({"demo.amlflow", std::string(64, 'b'), plan_json(), "{}", {}, ""}).value();
        BOOST_REQUIRE(store->add_step(earlier, "prep", "job", std::string(64, 'c')));
        BOOST_REQUIRE(store->set_step_state(earlier, "prep", StepState::Succeeded));
        BOOST_REQUIRE(store->set_run_state(earlier, RunState::Succeeded, 0));
        NewRun fresh{"demo.amlflow", std::string(64, 'b'), plan_json(), R"({"epochs": 3, "note": ")" + kEvil + "\"}",
                     {"epochs=3"}, ""};
        run = store->create_run(fresh).value();
        BOOST_REQUIRE(store->add_step(run, "prep", "job", std::string(64, 'c')));
        BOOST_REQUIRE(store->add_step(run, "train", "job", std::string(64, 'd')));
        BOOST_REQUIRE(store->add_step(run, kEvilStep, "job", std::string(64, 'e')));
        BOOST_REQUIRE(store->set_step_state(run, "prep", StepState::Cached, earlier));
        int64_t now = run_created();
        BOOST_REQUIRE_EQUAL(store->begin_attempt(run, "train", 29500).value(), 0);
        add_ranks(*store, run, 0, now + 10, 1, 15);
        add_metrics(*store, run, 0, 5, now + 20);
        json failure = {{"reason", "exit"},     {"rank", 1},
                        {"exit_code", 1},       {"message", "rank 1 exited with code 1"},
                        {"log", "/x/rank-1.log"}, {"tail", {"\x1b[31mTraceback\x1b[0m", kEvil, "SimulatedNodeFailure"}}};
        BOOST_REQUIRE(store->finish_attempt(run, "train", 0, AttemptState::Failed, failure.dump()));
        BOOST_REQUIRE_EQUAL(store->begin_attempt(run, "train", 29501).value(), 1);
        add_ranks(*store, run, 1, now + 1000, 0, 0);
        add_metrics(*store, run, 1, 5, now + 1100);
        for (int i = 0; i < 3; ++i) BOOST_REQUIRE(store->add_metric({run, "train", 1, 0, kEvil, i * 0.5, i, now + 1200}));
        BOOST_REQUIRE(store->finish_attempt(run, "train", 1, AttemptState::Succeeded));
        BOOST_REQUIRE(store->set_step_state(run, "train", StepState::Succeeded));
        BOOST_REQUIRE(store->set_step_state(run, kEvilStep, StepState::Skipped));
        NewModel model{"birds", std::string(64, '1'), project.root() / "store/registry/birds/1", 4200000,
                       run, "register", "train", 1, "", R"({"team": ")" + kEvilStep + "\"}", "{}"};
        BOOST_REQUIRE(store->add_model(model));
        model.run_id = earlier;  // a model of another run: not in this run's report
        model.hash = std::string(64, '2');
        BOOST_REQUIRE(store->add_model(model));
        BOOST_REQUIRE(store->set_run_state(run, RunState::Succeeded, 0));
    }
    int64_t run_created() { return store->find_run(run).value().created_ms; }

    ReportData data() {
        std::string error;
        auto gathered = gather_report(*store, run, &error);
        BOOST_REQUIRE_MESSAGE(gathered, error);
        return std::move(*gathered);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(escaping_helpers) {
    BOOST_TEST(html_escape("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    BOOST_TEST(html_escape(std::string("a\0b\x1b[0m\tc\n", 10)) == "ab[0m\tc\n");
    std::string script = json_for_script(json{{"k", kEvil + "<!--&"}});
    BOOST_TEST(!contains(script, "<"));
    BOOST_TEST(!contains(script, ">"));
    BOOST_TEST(json::parse(script)["k"] == kEvil + "<!--&");  // the same value once parsed
    BOOST_TEST(strip_terminal_codes("\x1b[1;31merror\x1b[0m: x") == "error: x");
}

BOOST_AUTO_TEST_CASE(gathering_reads_every_record) {
    DemoStore demo;
    ReportData data = demo.data();
    BOOST_REQUIRE_EQUAL(data.steps.size(), 3u);
    BOOST_TEST(data.plan.is_object());
    const ReportStep& train = data.steps[1];
    BOOST_REQUIRE_EQUAL(train.attempts.size(), 2u);
    BOOST_TEST(train.attempts[0].failure.value("rank", -1) == 1);
    BOOST_TEST(train.attempts[0].ranks.size() == 2u);
    BOOST_TEST(train.metrics.size() == 23u);
    BOOST_TEST(data.steps[0].record.cached_from == demo.earlier);
    BOOST_TEST(data.start_ms == data.run.created_ms);
    BOOST_TEST(data.end_ms >= train.attempts[1].ranks[1].finished_ms);
    BOOST_REQUIRE_EQUAL(data.models.size(), 1u);
    BOOST_TEST(data.models[0].version == 1);

    std::string error;
    BOOST_TEST(!gather_report(*demo.store, "nope", &error));
    BOOST_TEST(contains(error, "no run matches 'nope'"));
}

BOOST_AUTO_TEST_CASE(metric_charts_keep_nan_as_null_and_thin_long_series) {
    DemoStore demo;
    json charts = metrics_json(demo.data());
    BOOST_REQUIRE_EQUAL(charts.size(), 2u);  // loss, then the injected name
    BOOST_TEST(charts[1]["metric"] == kEvil);
    BOOST_TEST(charts[0]["step"] == "train");
    BOOST_TEST(charts[0]["x"] == "step");
    BOOST_REQUIRE_EQUAL(charts[0]["series"].size(), 4u);  // 2 attempts x 2 ranks
    const json& diverged = charts[0]["series"][1];         // attempt 0, rank 1
    BOOST_TEST(diverged["nonfinite"] == 1);
    BOOST_TEST(diverged["points"].back()[1].is_null());
    BOOST_TEST(charts[0]["series"][2]["points"][0][0] == 5.0);  // attempt 1 goes on from step 5

    json thinned = metrics_json(demo.data(), 2);
    for (const json& series : thinned[0]["series"]) BOOST_TEST(series["points"].size() <= 3u);
    BOOST_TEST(thinned[0]["series"][1]["points"].back()[1].is_null());  // the NaN survives thinning
}

BOOST_AUTO_TEST_CASE(the_page_escapes_the_store_and_shows_every_step) {
    DemoStore demo;
    std::string page = render_report_html(demo.data());
    BOOST_TEST(count(page, "<script") == 2u);  // the data and the chart script, nothing injected
    BOOST_TEST(count(page, "</script>") == 2u);
    BOOST_TEST(!contains(page, "alert(1)</"));
    BOOST_TEST(count(page, kEvilEscaped) == 2u);      // the param and the failure's log tail
    BOOST_TEST(count(page, kEvilStepEscaped) >= 4u);  // steps table, plan graph, timeline, tags
    BOOST_TEST(!contains(page, "<img"));
    BOOST_TEST(contains(page, R"("metric":"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e")"));
    BOOST_TEST(!contains(page, "\x1b"));
    BOOST_TEST(contains(page, "Traceback"));
    BOOST_TEST(!contains(page, "http://"));
    BOOST_TEST(!contains(page, "https://"));
    // The page writes attributes in double quotes, and escaped text has none: so a real src or
    // href attribute, and a CSS url(), must point inside the page.
    BOOST_TEST(!std::regex_search(page, std::regex(R"(\s(src|href)\s*=\s*"(?!#))")));
    BOOST_TEST(!std::regex_search(page, std::regex(R"(url\((?!#))")));
    for (const char* step : {"data-step=\"prep\"", "data-step=\"train\"", "data-step=\"&lt;img src=x"}) {
        BOOST_TEST(contains(page, step), step);
    }
    BOOST_TEST(contains(page, "cached: the result of run <code>" + demo.earlier));
    BOOST_TEST(contains(page, "graph-step state-cached"));
    BOOST_TEST(contains(page, "graph-step state-succeeded"));
    BOOST_TEST(contains(page, "graph-step state-skipped"));
    BOOST_TEST(count(page, "class=\"graph-edge") == 4u);
    BOOST_TEST(count(page, "class=\"timeline-bar ") == 2u);
    BOOST_TEST(count(page, "class=\"timeline-rank ") == 4u);
    BOOST_TEST(count(page, "class=\"timeline-failure\"") == 1u);  // rank 1's exit 1
    BOOST_TEST(count(page, "class=\"timeline-rank state-stopped\"") == 1u);  // rank 0, stopped by SIGTERM
    BOOST_TEST(contains(page, "killed by SIGTERM (stopped with its group)"));
    BOOST_TEST(contains(page, "rank 1 \u00b7 root cause"));
    BOOST_TEST(contains(page, "<dt>root-cause rank</dt><dd>1</dd>"));
    BOOST_TEST(contains(page, "--set epochs=3"));
    BOOST_TEST(count(page, "<tr class=\"model-row\">") == 1u);
    BOOST_TEST(contains(page, "<td>train (attempt 2)</td><td class=\"num\">4.2 MB</td>"));
    BOOST_TEST(contains(page, "<code class=\"chip\">team=" + kEvilStepEscaped + "</code>"));
}

// A run's Azure ML jobs (remote-jobs.json) in the report: each with the service's states and
// how long each took (issue 18 item 3).
BOOST_AUTO_TEST_CASE(the_azure_ml_jobs_with_their_states_and_times) {
    DemoStore demo;
    BOOST_TEST(!contains(render_report_html(demo.data()), "id=\"remote-jobs\""));  // none: no section
    std::string error;
    RemoteJob job{"train", 1, "amlflow-job-1", "ml.azure.com/runs/amlflow-job-1", "Failed",
                  {{"Queued", 1.2}, {"Preparing", 3.0}, {"Running", 41.0}}};
    BOOST_REQUIRE_MESSAGE(record_remote_job(demo.store->run_folder(demo.run), job, &error), error);
    ReportData data = demo.data();
    BOOST_REQUIRE_EQUAL(data.remote_jobs.size(), 1u);
    std::string page = render_report_html(data);
    BOOST_TEST(contains(page, "<a href=\"#remote-jobs\">Azure ML jobs</a>"));
    BOOST_TEST(contains(page, "<code>amlflow-job-1</code></td><td>train</td><td class=\"num\">2</td><td>Failed</td>"
                              "<td class=\"states\">Queued 1.2 s, Preparing 3.0 s, Running 41 s</td>"), page);
    BOOST_TEST(!std::regex_search(page, std::regex(R"(\s(src|href)\s*=\s*"(?!#))")));
}

BOOST_AUTO_TEST_CASE(an_unreadable_plan_and_an_empty_run_still_render) {
    DemoStore demo;
    NewRun odd{"odd.amlflow", std::string(64, 'f'), R"({"nodes": 5, "edges": "x"})", "{}", {}, ""};
    std::string id = demo.store->create_run(odd).value();
    std::string error;
    auto data = gather_report(*demo.store, id, &error);
    BOOST_REQUIRE(data);
    std::string page = render_report_html(*data);
    BOOST_TEST(contains(page, "The stored plan could not be read."));
    BOOST_TEST(contains(page, "This run recorded no steps."));

    data->plan = json::parse(R"({"nodes": [{"id": "step:a", "name": "a"}, {"id": "step:b", "kind": 3}, 7],
                                 "edges": [{"from": "step:a", "to": "step:b"}, {"from": "step:b", "to": "step:a"},
                                           {"from": "step:zz", "to": "step:a"}, {"to": 3}]})");
    page = render_report_html(*data);  // a cycle and dangling edges: drawn, not looped on
    BOOST_TEST(count(page, "class=\"graph-edge") == 2u);
    BOOST_TEST(std::regex_search(page, std::regex(R"(class="graph-name"[^>]*>step:b</text>)")));  // no name: its id
}

BOOST_AUTO_TEST_CASE(the_command_writes_the_page_and_prints_its_path) {
    if (amlflow_bin().empty()) {
        BOOST_TEST_MESSAGE("AMLFLOW_BIN is not set: the command-line test is skipped");
        return;
    }
    DemoStore demo;
    fs::path out = demo.project.root() / "r.html";
    size_t differ = 0;  // the shortest prefix that tells the run from the earlier one
    while (differ < demo.run.size() && demo.run[differ] == demo.earlier[differ]) ++differ;
    Shell made = shell(amlflow_bin() + " report " + demo.run.substr(0, differ + 1) + " --store " +
                       (demo.project.root() / "store").string() + " -o " + out.string() + " 2>&1");
    BOOST_TEST(made.code == 0, made.out);
    BOOST_TEST(made.out == out.string() + "\n");
    std::ifstream in(out);
    std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(contains(page, "timeline-bar"));

    Shell by_default = shell("cd " + demo.project.root().string() + " && " + amlflow_bin() + " report " + demo.run +
                             " --store store 2>&1");
    BOOST_TEST(by_default.code == 0, by_default.out);
    BOOST_TEST(fs::exists(demo.project.root() / ("report-" + demo.run + ".html")));

    Shell missing = shell(amlflow_bin() + " report zzz --store " + (demo.project.root() / "store").string() + " 2>&1");
    BOOST_TEST(missing.code == 1);
    BOOST_TEST(contains(missing.out, "amlflow: error: no run matches 'zzz'"), missing.out);

    fs::path nowhere = demo.project.root() / "no-such-folder" / "r.html";
    Shell unwritable = shell(amlflow_bin() + " report " + demo.run + " --store " +
                             (demo.project.root() / "store").string() + " -o " + nowhere.string() + " 2>&1");
    BOOST_TEST(unwritable.code == 1);
    BOOST_TEST(contains(unwritable.out, "cannot write '" + nowhere.string() + "': No such file or directory"),
               unwritable.out);
    BOOST_TEST(!fs::exists(nowhere.parent_path()));
}

BOOST_AUTO_TEST_CASE(chromium_runs_the_page_script_and_draws_the_charts) {
    if (!fs::exists("/usr/bin/chromium")) {
        BOOST_TEST_MESSAGE("/usr/bin/chromium is not installed: the headless browser test is skipped");
        return;
    }
    DemoStore demo;
    fs::path page = demo.project.root() / "report.html";
    std::string error;
    BOOST_REQUIRE_MESSAGE(write_report_html(demo.data(), page, &error), error);
    fs::path profile = demo.project.root() / "chromium-profile";
    Shell dom = shell("timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run "
                      "--user-data-dir=" + profile.string() + " --dump-dom file://" + page.string() + " 2>/dev/null");
    BOOST_REQUIRE_MESSAGE(dom.code == 0, "chromium exited with " << dom.code);
    BOOST_TEST(count(dom.out, "class=\"timeline-bar ") == 2u);  // one per attempt
    BOOST_TEST(count(dom.out, "class=\"metric-chart\"") == 2u);
    // Drawn by the script: loss's four series and the injected metric's one, each a path
    // with at least two points.
    std::regex series(R"re(<path class="series[^"]*" d="M[0-9.]+ [0-9.]+( L[0-9.]+ [0-9.]+)+")re");
    auto drawn = std::distance(std::sregex_iterator(dom.out.begin(), dom.out.end(), series), std::sregex_iterator());
    BOOST_TEST(drawn == 5);
    BOOST_TEST(count(dom.out, "class=\"nan-mark\"") == 1u);
    BOOST_TEST(contains(dom.out, "attempt 1 \u00b7 rank 1 (superseded)"));
    BOOST_TEST(count(dom.out, "<script") == 2u);  // the injections stayed text
    BOOST_TEST(!contains(dom.out, "<img"));
    BOOST_TEST(contains(dom.out, "</span>" + kEvilEscaped + "</h3>"));  // the chart's title
}

BOOST_AUTO_TEST_CASE(every_example_plan_renders_with_graphviz) {
    if (amlflow_bin().empty()) {
        BOOST_TEST_MESSAGE("AMLFLOW_BIN is not set: the Graphviz test is skipped");
        return;
    }
    BOOST_REQUIRE_MESSAGE(shell("command -v dot").code == 0,
                          "Graphviz's dot is not installed (scripts/install-deps.sh installs it)");
    size_t examples = 0;
    for (const auto& folder : fs::directory_iterator(fs::path(AMLFLOW_SOURCE_DIR) / "examples")) {
        for (const auto& file : fs::directory_iterator(folder.path())) {
            if (file.path().extension() != ".amlflow") continue;
            ++examples;
            Shell svg = shell("bash -o pipefail -c '" + amlflow_bin() + " plan " + file.path().string() +
                              " --format dot | dot -Tsvg' 2>&1");
            BOOST_TEST(svg.code == 0, file.path().string() << ": " << svg.out.substr(0, 2000));
            BOOST_TEST(contains(svg.out, "<svg"), file.path().string());
            BOOST_TEST(contains(svg.out, "class=\"node\""), file.path().string());
        }
    }
    BOOST_TEST(examples >= 5u);
}

namespace {

// A sweep run as `amlflow run` records one: a sweep `tune`, a job `notes`, then four trials (tune[2]
// stopped early by the policy), each logging val_acc per
// epoch and best_val_acc once; register, export and download steps with their result_json;
// and `late`, an action that failed before any process started. `cached` is a second run
// that took the sweep and the registration from the cache.
struct SweepStore {
    amlflow::testing::TempProject project;
    std::unique_ptr<RunStore> store;
    std::string run, cached;

    void step(const std::string& id, const std::string& name, const std::string& kind, StepState state,
              const json& result) {
        BOOST_REQUIRE(store->add_step(id, name, kind, std::string(64, 'f')));
        if (!result.is_null()) BOOST_REQUIRE(store->set_step_result(id, name, result.dump()));
        BOOST_REQUIRE(store->set_step_state(id, name, state, state == StepState::Cached ? run : ""));
    }

    SweepStore() {
        std::string error;
        store = RunStore::open(project.root() / "store", &error);
        BOOST_REQUIRE_MESSAGE(store, error);
        run = store->create_run({"birds.amlflow", std::string(64, 'b'), "{}", "{}", {}, ""}).value();
        json trials = json::array();
        double finals[] = {0.61, 0.72, 0.55, 0.70};
        step(run, "tune", "sweep", StepState::Succeeded, nullptr);
        step(run, "notes", "job", StepState::Succeeded, nullptr);  // added before the trials, as a run does
        for (int i = 0; i < 4; ++i) {
            std::string name = "tune[" + std::to_string(i) + "]";
            step(run, name, "trial", i == 2 ? StepState::StoppedEarly : StepState::Succeeded,
                 {{"results", {{"outputs", "/store/runs/x/" + name + "/outputs"}}}});
            int64_t now = store->find_run(run).value().created_ms;
            BOOST_REQUIRE_EQUAL(store->begin_attempt(run, name, 29500 + i).value(), 0);
            for (int epoch = 0; epoch < 3; ++epoch) {
                BOOST_REQUIRE(store->add_metric({run, name, 0, 0, "val_acc", finals[i] - 0.1 * (2 - epoch), epoch, now}));
            }
            BOOST_REQUIRE(store->add_metric({run, name, 0, 0, "best_val_acc", finals[i], -1, now + 10 * i}));
            trials.push_back({{"name", name},
                              {"state", i == 2 ? "stopped early" : "succeeded"},
                              {"params", {{"lr", 0.001 * (i + 1)}, {"note", i == 3 ? kEvil : "plain"}}},
                              {"value", finals[i]}});
        }
        BOOST_REQUIRE(store->set_step_result(run, "tune", json{{"best", "tune[1]"},
                                                                {"objective", {{"metric", "val_acc"}, {"goal", "maximize"}, {"value", 0.72}}},
                                                                {"trials", trials},
                                                                {"results", {{"best.name", "tune[1]"}}}}.dump()));
        step(run, "bird_classifier", "register", StepState::Succeeded,
             {{"model", {{"name", "pytorch-birds"}, {"version", 7}, {"hash", "ab"}, {"existing", false}}},
              {"results", {{"name", "pytorch-birds"}, {"version", "7"}, {"path", "/registry/objects/ab/model.pt"}}}});
        step(run, "bird_onnx", "export", StepState::Succeeded,
             {{"export", {{"onnx", "/store/runs/x/bird_onnx/outputs/model.onnx"}, {"opset", 13}, {"checker", "passed"},
                          {"numeric_check", {{"ran", true}, {"max_abs_diff", 2.5e-7}, {"passed", true}}}}},
              {"results", {{"file", "/store/runs/x/bird_onnx/outputs/model.onnx"}}}});
        step(run, "best_model", "download", StepState::Succeeded,
             {{"digest", "cd"}, {"files", 4}, {"bytes", 219406},
              {"results", {{"to", "/home/me/birds/downloads/birds"}, {"path", "/home/me/birds/downloads/birds"}}}});
        step(run, "late", "download", StepState::Failed, nullptr);
        BOOST_REQUIRE(store->set_run_state(run, RunState::Failed, 2));

        cached = store->create_run({"birds.amlflow", std::string(64, 'b'), "{}", "{}", {}, ""}).value();
        for (const char* name : {"tune", "bird_classifier"}) {
            auto records = store->steps_of(run).value();
            auto origin = std::find_if(records.begin(), records.end(), [&](const StepRecord& r) { return r.name == name; });
            step(cached, name, origin->kind, StepState::Cached, json::parse(origin->result_json));
        }
        BOOST_REQUIRE(store->set_run_state(cached, RunState::Succeeded, 0));
    }

    ReportData data(const std::string& id) {
        std::string error;
        auto gathered = gather_report(*store, id, &error);
        BOOST_REQUIRE_MESSAGE(gathered, error);
        return std::move(*gathered);
    }
};

std::vector<std::string> names_of(const std::vector<const ReportStep*>& steps) {
    std::vector<std::string> names;
    for (const ReportStep* step : steps) names.push_back(step->record.name);
    return names;
}

}  // namespace

BOOST_AUTO_TEST_CASE(trials_follow_their_sweep) {
    SweepStore sweep;
    ReportData data = sweep.data(sweep.run);
    StepRecord trial;
    trial.kind = "trial";
    trial.name = "tune[12]";
    BOOST_TEST(sweep_of(trial) == "tune");
    trial.kind = "job";  // a job may be named with brackets too: it is no trial
    BOOST_TEST(sweep_of(trial) == "");
    // The store lists steps as they were added (the sweep, its trials, the rest); the page
    // keeps that order but puts each sweep's trials right under it.
    std::vector<std::string> got = names_of(ordered_steps(data));
    std::vector<std::string> stored;
    for (const ReportStep& step : data.steps) stored.push_back(step.record.name);
    size_t at = std::find(got.begin(), got.end(), "tune") - got.begin();
    BOOST_REQUIRE(at + 4 < got.size());
    for (int i = 0; i < 4; ++i) BOOST_TEST(got[at + 1 + i] == "tune[" + std::to_string(i) + "]");
    BOOST_TEST(got.size() == stored.size());
    BOOST_TEST(stored[1] == "notes");  // the store had it between the sweep and its trials
    BOOST_TEST(got[at + 5] == "notes");
}

BOOST_AUTO_TEST_CASE(a_sweep_shares_one_chart_per_metric_across_its_trials) {
    SweepStore sweep;
    json charts = metrics_json(sweep.data(sweep.run));
    BOOST_REQUIRE_EQUAL(charts.size(), 2u);  // val_acc and best_val_acc, not 4 trials x 2
    const json& curves = charts[0];
    BOOST_TEST(curves["metric"] == "val_acc");
    BOOST_TEST(curves["sweep"] == "tune");
    BOOST_TEST(curves["x"] == "step");
    BOOST_TEST(curves["trials"] == json({"tune[0]", "tune[1]", "tune[2]", "tune[3]"}));
    BOOST_REQUIRE_EQUAL(curves["series"].size(), 4u);
    BOOST_TEST(curves["series"][1]["trial"] == "tune[1]");
    BOOST_TEST(curves["series"][1]["points"].size() == 3u);
    // Logged once per trial: one value per trial, side by side, x the trial's index.
    const json& once = charts[1];
    BOOST_TEST(once["metric"] == "best_val_acc");
    BOOST_TEST(once["x"] == "trial");
    BOOST_TEST(once["series"][3]["points"][0][0] == 3.0);
    BOOST_TEST(std::abs(once["series"][3]["points"][0][1].get<double>() - 0.70) < 1e-9);
}

BOOST_AUTO_TEST_CASE(the_result_column_says_what_each_step_produced) {
    SweepStore sweep;
    ReportData data = sweep.data(sweep.run);
    std::string page = render_report_html(data);
    BOOST_TEST(contains(page, "model <strong>pytorch-birds</strong> version 7"));
    BOOST_TEST(contains(page, "to <code class=\"path\">/home/me/birds/downloads/birds</code>"));
    BOOST_TEST(contains(page, "4 files, 219.4 kB"));
    BOOST_TEST(contains(page, "/bird_onnx/outputs/model.onnx</code>"));
    BOOST_TEST(contains(page, "opset 13 \u00b7 ONNX checker passed \u00b7 numeric check passed (max abs diff 2.5e-07)"));
    BOOST_TEST(contains(page, "best trial <strong>tune[1]</strong>: val_acc = 0.72"));
    BOOST_TEST(contains(page, "lr=0.002, note=plain"));  // the best trial's parameters
    // Trials are indented rows; the best one is marked; a stopped one says so.
    BOOST_TEST(count(page, "class=\"step-row trial-row\"") == 4u);
    BOOST_TEST(contains(page, "data-step=\"tune[1]\"><td class=\"name\">tune[1] <span class=\"chip best\">best</span>"));
    BOOST_TEST(contains(page, "<span class=\"badge state-stopped-early\">stopped early</span>"));
    BOOST_TEST(!contains(page, "data-step=\"bird_classifier\"><td class=\"name\">bird_classifier</td><td>register</td><td><span "
                               "class=\"badge state-succeeded\">succeeded</span></td><td class=\"num\">0</td><td>x"));
    // The sweeps section: a row per trial, its parameters, its value; the injection escaped.
    BOOST_TEST(contains(page, "<section id=\"sweeps\">"));
    BOOST_TEST(contains(page, "maximize <code>val_acc</code> over 4 trials"));
    BOOST_TEST(count(page, "<tr class=\"best\">") == 1u);
    BOOST_TEST(contains(page, kEvilEscaped));
    BOOST_TEST(count(page, "<script") == 2u);
    BOOST_TEST(!contains(page, "alert(1)</"));
    // A step that failed before any process ran is in Failures, though no attempt failed.
    BOOST_TEST(contains(page, "<h3>step <q>late</q> <span class=\"badge state-failed\">failed</span></h3>"));
    BOOST_TEST(contains(page, "failed before any process started"));
    BOOST_TEST(!contains(page, "No attempt failed."));
    BOOST_TEST(!contains(page, "class=\"cache-note\""));  // nothing came from the cache
}

BOOST_AUTO_TEST_CASE(a_cached_run_says_where_its_results_came_from) {
    SweepStore sweep;
    ReportData data = sweep.data(sweep.cached);
    BOOST_REQUIRE_EQUAL(data.steps.size(), 2u);
    // The cached sweep's trials are not steps of this run, but their metrics are shown,
    // read from the run that ran them.
    BOOST_REQUIRE_EQUAL(data.cached_trials.size(), 4u);
    BOOST_TEST(data.cached_trials[0].metrics_from == sweep.run);
    json charts = metrics_json(data);
    BOOST_REQUIRE_EQUAL(charts.size(), 2u);
    BOOST_TEST(charts[0]["series"][0]["from"] == sweep.run);
    std::string page = render_report_html(data);
    BOOST_TEST(contains(page, "class=\"cache-note\""));
    BOOST_TEST(contains(page, "Every step reused an earlier run's result instead of running: from run <code>" +
                                  sweep.run + "</code> <q>tune</q>, <q>bird_classifier</q>"));
    // The result is shown as well as where it came from.
    BOOST_TEST(contains(page, "model <strong>pytorch-birds</strong> version 7"));
    BOOST_TEST(count(page, "cached: the result of run <code>" + sweep.run + "</code>") == 2u);
    BOOST_TEST(contains(page, "best trial <strong>tune[1]</strong>"));
}

BOOST_AUTO_TEST_CASE(chromium_draws_a_line_per_trial_and_marks_the_best) {
    if (!fs::exists("/usr/bin/chromium")) {
        BOOST_TEST_MESSAGE("/usr/bin/chromium is not installed: the headless browser test is skipped");
        return;
    }
    SweepStore sweep;
    fs::path page = sweep.project.root() / "sweep.html";
    std::string error;
    BOOST_REQUIRE_MESSAGE(write_report_html(sweep.data(sweep.run), page, &error), error);
    fs::path profile = sweep.project.root() / "chromium-profile";
    Shell dom = shell("timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run "
                      "--user-data-dir=" + profile.string() + " --dump-dom file://" + page.string() + " 2>/dev/null");
    BOOST_REQUIRE_MESSAGE(dom.code == 0, "chromium exited with " << dom.code);
    BOOST_TEST(count(dom.out, "class=\"metric-chart\"") == 2u);
    BOOST_TEST(count(dom.out, "<path class=\"series best\"") == 2u);  // the best trial, on both charts
    BOOST_TEST(contains(dom.out, "tune[1] (lr=0.002, note=plain)"));
    BOOST_TEST(contains(dom.out, "\u2605 best"));
    BOOST_TEST(contains(dom.out, "stopped early"));
    BOOST_TEST(contains(dom.out, ">tune[3]</text>"));  // best_val_acc's x axis names the trials
    BOOST_TEST(count(dom.out, "<script") == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
