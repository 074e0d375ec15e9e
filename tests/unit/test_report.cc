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

#include "runtime/report_data.h"
#include "runtime/report_html.h"
#include "runtime/run_store.h"
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
    BOOST_TEST(contains(page, "cached from run <code>" + demo.earlier));
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

BOOST_AUTO_TEST_SUITE_END()
