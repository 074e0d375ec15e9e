// What a new user met trying every command (issue 16, item 5: the executor, run store and
// command line), end to end through the real binary: interpolated strings of the steps
// that act on results, --resume after --force, the summary and attempt numbers after a
// resume, a sweep's logs, a trial that finished while early termination stopped it,
// --dry-run of sweeps and of a resume, `models download --overwrite`, and the store's
// messages. Each case failed before its fix.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include "tests/unit/e2e_harness.h"

#include "runtime/report/run_reporter.h"

namespace {

std::map<std::string, StepRecord> steps_by_name(RunStore& store, const std::string& run) {
    std::map<std::string, StepRecord> out;
    auto steps = store.steps_of(run);
    BOOST_REQUIRE(steps);
    for (StepRecord& step : *steps) out[step.name] = step;
    return out;
}

// The summary table's row for `step` in amlflow's stderr: the last table printed.
std::string summary_row(const std::string& err, const std::string& step) {
    std::string row;
    bool table = false;
    for (const std::string& line : lines_of(err)) {
        if (line.rfind("step ", 0) == 0 && contains(line, "attempts")) table = true;
        if (table && line.rfind(step + " ", 0) == 0) row = line;
    }
    return row;
}

// The columns of a summary row: name, kind, state (may be two words), attempts, time.
std::vector<std::string> columns(const std::string& row) {
    std::vector<std::string> out;
    std::istringstream in(row);
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(user_e2e)

// `register model` and `download` with interpolated strings: every string the checker
// accepts is text before anything reads it (no "internal error json type_error.302"),
// tags are stored resolved, and `models show` prints them (it aborted with 134).
BOOST_AUTO_TEST_CASE(interpolated_strings_of_actions_are_resolved) {
    Sandbox box;
    box.write("p.amlflow", R"(
param stage: string = "test"
experiment e {
  job one { command = ["/bin/sh", "-c", "echo weights > outputs/m.pt"] }
  register model m {
    path        = "${one.outputs}/m.pt"
    name        = "clf-${stage}"
    description = "trained in ${one.outputs}"
    tags        = { from = "${one.outputs}", stage = "${stage}", fixed = "x" }
  }
  download d { path = one.outputs / "m.pt", to = "got-${stage}" }
}
)");
    Outcome checked = box.run({"check", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(checked.code == 0, checked);
    Outcome run = box.run({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(run.code == 0, run);
    BOOST_TEST(!contains(run.err, "internal error"), run);
    BOOST_TEST(contains(run.err, "(1 file, 8 bytes)"), run);
    auto store = box.store();
    std::string id = box.only_run();
    fs::path outputs = steps_by_name(*store, id)["one"].outputs;
    auto model = store->find_model("clf-test");
    BOOST_REQUIRE_MESSAGE(model, store->last_error());
    BOOST_TEST(model->description == "trained in " + outputs.string());
    json tags = json::parse(model->tags_json);
    BOOST_TEST(tags["from"] == outputs.string());
    BOOST_TEST(tags["stage"] == "test");
    BOOST_TEST(tags["fixed"] == "x");
    BOOST_TEST(read_file(box.root() / "got-test" / "m.pt") == "weights\n");
    Outcome show = box.run({"models", "show", "clf-test"});
    BOOST_REQUIRE_MESSAGE(show.code == 0, show);
    BOOST_TEST(contains(show.out, "description: trained in " + outputs.string()), show);
    BOOST_TEST(contains(show.out, "stage=test"), show);
    BOOST_TEST(contains(show.out, "from=" + outputs.string()), show);

    // An export's strings reach its exporter as text: the file it runs from says so (the
    // export itself fails: the "model" is not one).
    box.write("q.amlflow", R"(
param stage: string = "test"
experiment e {
  job one { command = ["/bin/sh", "-c", "echo weights > outputs/m.pt"] }
  export onnx x {
    model       = one.outputs / "m.pt"
    input_shape = [1]
    factory     = "models:make_${stage}"
    input_names = ["image-${one.outputs}"]
  }
}
)");
    Outcome exported = box.run({"run", "q.amlflow"});
    BOOST_TEST(exported.code == 2, exported);
    BOOST_TEST(!contains(exported.err, "internal error"), exported);
    std::string second = store->list_runs(1)->front().id;
    json spec = json::parse(read_file(store->run_folder(second) / "x" / "export-spec.json"), nullptr, false);
    BOOST_REQUIRE_MESSAGE(spec.is_object(), exported);
    BOOST_TEST(spec["factory"] == "models:make_test");
    BOOST_TEST(spec["input_names"][0] == "image-" + steps_by_name(*store, second)["one"].outputs.string());
}

// A run started with --force, killed, then resumed: the steps it had not finished still
// do not come from the cache, though an earlier run cached them. The run shows its
// flags; the summary after the resume counts each step's attempts (the kept step's
// too) and shows the time a kept step took, not the time since it started; attempts
// are numbered from 1 in every place a person reads them, log folders included.
BOOST_AUTO_TEST_CASE(resume_keeps_force_and_counts_attempts_from_one) {
    Sandbox box;  // the pipeline in a folder of its own: its source must not change
    fs::path hold = box.path("hold"), started = box.path("started");
    box.write("proj/p.amlflow", R"(
experiment e {
  job a { command = ["/bin/sh", "-c", "echo a > outputs/a.txt"] }
  job b {
    command = ["/bin/sh", "-c", "echo \"b attempt $AMLFLOW_ATTEMPT\"; if [ -e )" + hold.string() +
                                R"( ] && [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then touch )" + started.string() +
                                R"(; sleep 60; fi; echo b > outputs/b.txt"]
    after = [a]
  }
}
)");
    Outcome first = box.run({"run", "proj/p.amlflow"});
    BOOST_REQUIRE_MESSAGE(first.code == 0, first);
    box.write("hold", "");
    auto forced = box.start({"run", "proj/p.amlflow", "--force"});
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return fs::exists(started); }, 30), "step b never started");
    forced->signal(SIGKILL);
    forced->wait(10);
    std::string run;
    {
        auto store = box.store();
        run = store->list_runs(1)->front().id;
        BOOST_TEST(steps_by_name(*store, run)["a"].state == StepState::Succeeded);
    }
    // The killed run's interpreter is gone: what the summary shows for the kept step is
    // the time it took, however long ago that was.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    Outcome resumed = box.run({"run", "--resume", run});
    BOOST_REQUIRE_MESSAGE(resumed.code == 0, resumed);
    auto store = box.store();
    auto steps = steps_by_name(*store, run);
    BOOST_TEST(steps["b"].state == StepState::Succeeded, resumed);  // not Cached from the first run
    BOOST_TEST(steps["b"].cached_from.empty());
    BOOST_TEST(steps["b"].attempts == 2);
    BOOST_TEST(contains(resumed.err, "step 'b' resumed (attempt 2)"), resumed);

    std::vector<std::string> a_row = columns(summary_row(resumed.err, "a"));
    std::vector<std::string> b_row = columns(summary_row(resumed.err, "b"));
    BOOST_REQUIRE_MESSAGE(a_row.size() == 5u && b_row.size() == 5u, resumed.err);
    BOOST_TEST(a_row[3] == "1", resumed.err);  // a's one attempt, made before the kill
    BOOST_TEST(b_row[3] == "2", resumed.err);
    int64_t a_took = steps["a"].finished_ms - steps["a"].started_ms;
    BOOST_TEST(a_row[4] == (a_took ? format_duration_ms(a_took) : "-"), resumed.err);

    Outcome shown = box.run({"runs", "show", run});
    BOOST_REQUIRE_MESSAGE(shown.code == 0, shown);
    BOOST_TEST(contains(shown.out, "  --force\n"), shown);
    BOOST_TEST(contains(shown.out, "attempt 1: canceled"), shown);
    BOOST_TEST(contains(shown.out, "attempt 2: succeeded"), shown);
    BOOST_TEST(contains(shown.out, "/b/attempt-1/rank-0.log"), shown);
    BOOST_TEST(contains(shown.out, "/b/attempt-2/rank-0.log"), shown);
    BOOST_TEST(!contains(shown.out, "attempt-0"), shown);
    Outcome second = box.run({"logs", run, "--step", "b", "--attempt", "2"});
    BOOST_TEST(second.code == 0);
    BOOST_TEST(contains(second.out, "b attempt 1"), second);  // AMLFLOW_ATTEMPT counts restarts, from 0
    Outcome report = box.run({"report", run, "-o", box.path("r.html").string()});
    BOOST_REQUIRE_MESSAGE(report.code == 0, report);
    std::string page = read_file(box.path("r.html"));
    BOOST_TEST(contains(page, ">attempt 2<"));
    BOOST_TEST(!contains(page, ">attempt 0<"));
}

// `amlflow logs --step SWEEP` prints every trial's log, each labelled (it found none).
BOOST_AUTO_TEST_CASE(logs_of_a_sweep_are_its_trials_logs) {
    Sandbox box;
    box.write("p.amlflow", R"(
experiment e {
  job trial(q: int = 1) { command = ["/bin/sh", "-c", "echo \"trial says $0\""], args = [q] }
  sweep tune over trial {
    space     { q = choice(7, 8) }
    sampling  = grid
    objective = maximize("score")
  }
}
)");
    Outcome run = box.run({"run", "p.amlflow"});
    BOOST_TEST(run.code == 2);  // no trial reports the objective: the sweep fails, the logs stay
    std::string id = box.only_run();
    Outcome logs = box.run({"logs", id, "--step", "tune"});
    BOOST_REQUIRE_MESSAGE(logs.code == 0, logs);
    BOOST_TEST(contains(logs.out, "==> tune[0] attempt 1 rank 0"), logs);
    BOOST_TEST(contains(logs.out, "==> tune[1] attempt 1 rank 0"), logs);
    BOOST_TEST(contains(logs.out, "trial says 7"), logs);
    BOOST_TEST(contains(logs.out, "trial says 8"), logs);
    Outcome one = box.run({"logs", id, "--step", "tune[1]"});
    BOOST_TEST(one.code == 0);
    BOOST_TEST(contains(one.out, "trial says 8"), one);
    BOOST_TEST(!contains(one.out, "trial says 7"), one);
}

// A trial that exited 0 while the early-stop policy decided to stop it is completed:
// here its rank has exited, a child it left holds its output open (amlflow waits 1 s for
// such a child), and the metrics read meanwhile put it far behind the best trial.
BOOST_AUTO_TEST_CASE(a_trial_that_exited_0_is_not_stopped_early) {
    Sandbox box;
    box.write("trial.py", R"py(
import subprocess, sys, time
import amlflow
quality = float(sys.argv[1])
if quality > 0.5:
    amlflow.log("score", quality, step=0)
    time.sleep(4)
else:
    time.sleep(1.5)                      # the good trial's score is read by now
    amlflow.log("score", quality, step=0)
    subprocess.Popen(["sleep", "5"])     # holds stdout: the rank's end waits for it
open("outputs/done.txt", "w").write(str(quality))
)py");
    box.write("p.amlflow", R"(
experiment e {
  job trial(quality: float = 1.0) { command = ["/usr/bin/python3", "trial.py"], args = [quality] }
  sweep tune over trial {
    space      { quality = choice(1.0, 0.1) }
    sampling   = grid
    objective  = maximize("score")
    parallel   = 2
    early_stop = bandit { slack = 0.1 }
  }
}
)");
    Outcome run = box.run({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(run.code == 0, run);
    auto store = box.store();
    auto steps = steps_by_name(*store, box.only_run());
    BOOST_TEST(steps["tune[1]"].state == StepState::Succeeded, run);
    auto tries = attempts(*store, box.only_run(), "tune[1]");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    BOOST_TEST(tries[0].state == AttemptState::Succeeded);
    BOOST_TEST(read_file(steps["tune[1]"].outputs / "done.txt") == "0.1");
    json result = json::parse(steps["tune"].result_json);
    BOOST_TEST(result["trials"][1]["state"] == "succeeded");
    BOOST_TEST(!contains(run.err, "stopped early"), run);
}

// --dry-run shows each trial a sweep would start (index, values, processes) and says
// what would start rather than "started"; with --resume it shows what the resumed run
// would still run, and runs nothing (it ran the run).
BOOST_AUTO_TEST_CASE(dry_run_of_sweeps_and_of_a_resume_starts_nothing) {
    Sandbox box;
    fs::path marks = box.path("marks");
    fs::create_directories(marks);
    box.write("proj/p.amlflow", R"(
experiment e {
  job trial(q: int = 1) { command = ["/bin/sh", "-c", "touch )" + marks.string() + R"(/trial-$0"], args = [q] }
  sweep tune over trial {
    space     { q = choice(3, 4, 5) }
    sampling  = grid
    objective = maximize("score")
    parallel  = 2
  }
  job a { command = ["/bin/sh", "-c", "touch )" + marks.string() + R"(/a"] }
  job b { command = ["/bin/sh", "-c", "test -e )" + box.path("ok").string() + R"( && touch )" + marks.string() +
                                      R"(/b"], after = [a] }
}
)");
    Outcome dry = box.run({"run", "proj/p.amlflow", "--dry-run"});
    BOOST_REQUIRE_MESSAGE(dry.code == 0, dry);
    BOOST_TEST(contains(dry.out, "would start 3 trials, at most 2 at once"), dry);
    BOOST_TEST(contains(dry.out, "trial 0 (tune[0]): q=3"), dry);
    BOOST_TEST(contains(dry.out, "trial 2 (tune[2]): q=5"), dry);
    BOOST_TEST(contains(dry.out, "[tune[1]] \"/bin/sh\" \"-c\""), dry);
    BOOST_TEST(contains(dry.out, "AMLFLOW_STEP=tune[0]"), dry);
    BOOST_TEST(!contains(dry.out + dry.err, "started:"), dry);
    BOOST_TEST(fs::is_empty(marks));
    BOOST_TEST(!fs::exists(box.home() / "store.db"));

    Outcome failed = box.run({"run", "proj/p.amlflow", "--step", "b"});
    BOOST_REQUIRE_MESSAGE(failed.code == 2, failed);
    std::string id = box.only_run();
    box.write("ok", "");
    Outcome again = box.run({"run", "--resume", id, "--dry-run"});
    BOOST_REQUIRE_MESSAGE(again.code == 0, again);
    BOOST_TEST(contains(again.out, "a (job)\n  kept: the run completed it"), again);
    BOOST_TEST(contains(again.out, "b (job)\n  would start 1 process"), again);
    BOOST_TEST(!contains(again.out, "tune"), again);  // --step b: not part of this run
    BOOST_TEST(!fs::exists(marks / "b"), "--resume --dry-run ran the step");
    auto store = box.store();
    BOOST_TEST(steps_by_name(*store, id)["b"].attempts == 1);
    BOOST_TEST(store->find_run(id)->state == RunState::Failed);
}

// `models download` offers the flag it has (--overwrite); a missing store is named once.
BOOST_AUTO_TEST_CASE(models_download_overwrite_and_store_messages) {
    Sandbox box;
    box.write("p.amlflow", R"(
experiment e {
  job train { command = ["/bin/sh", "-c", "echo weights > outputs/model.pt"] }
  register model clf { path = train.outputs / "model.pt" }
}
)");
    Outcome run = box.run({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(run.code == 0, run);
    fs::path to = box.path("got");
    box.write("got/model.pt", "mine\n");
    Outcome refused = box.run({"models", "download", "clf", to.string()});
    BOOST_TEST(refused.code == 1);
    BOOST_TEST(contains(refused.err, "pass --overwrite to replace it"), refused);
    BOOST_TEST(!contains(refused.err, "overwrite = true"), refused);
    BOOST_TEST(read_file(to / "model.pt") == "mine\n");
    Outcome replaced = box.run({"models", "download", "clf", to.string(), "--overwrite"});
    BOOST_REQUIRE_MESSAGE(replaced.code == 0, replaced);
    BOOST_TEST(read_file(to / "model.pt") == "weights\n");

    Outcome nowhere = box.run({"runs", "list", "--store", box.path("nowhere").string()});
    BOOST_TEST(nowhere.code == 1);
    size_t first = nowhere.err.find("no run store");
    BOOST_TEST(first != std::string::npos, nowhere);
    BOOST_TEST(nowhere.err.find("no run store", first + 1) == std::string::npos, nowhere);
}

BOOST_AUTO_TEST_SUITE_END()
