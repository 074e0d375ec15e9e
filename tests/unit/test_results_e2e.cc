// What runs produce, end to end through the real binary (issue "Results"): metrics kept
// per step, rank and attempt; outputs referenced by later steps; cache keys that follow
// input contents; --force and --force-step; --resume after amlflow is SIGKILLed; the
// model registry's versions, lineage and identical re-registration; sweeps with early
// stopping; paths that try to leave their folder; and the birds pipeline with real
// PyTorch and onnx (train on 2 ranks → register → export ONNX → download), whose second
// run is all cached and starts no process.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include "tests/unit/e2e_harness.h"

namespace {

// The steps of a run by name.
std::map<std::string, StepRecord> steps_by_name(RunStore& store, const std::string& run) {
    std::map<std::string, StepRecord> out;
    auto steps = store.steps_of(run);
    BOOST_REQUIRE(steps);
    for (StepRecord& step : *steps) out[step.name] = step;
    return out;
}

std::vector<std::string> run_ids(RunStore& store) {
    auto runs = store.list_runs(0);
    BOOST_REQUIRE(runs);
    std::vector<std::string> ids;
    for (auto it = runs->rbegin(); it != runs->rend(); ++it) ids.push_back(it->id);  // oldest first
    return ids;
}

size_t attempt_count(RunStore& store, const std::string& run) {
    size_t count = 0;
    for (const auto& [name, step] : steps_by_name(store, run)) count += attempts(store, run, name).size();
    return count;
}

// A python3 script that writes what a job needs; python3 on PATH is enough (no torch).
const char* kWriter = R"py(
import os, sys
import amlflow
name, text = sys.argv[1], sys.argv[2]
with open(os.path.join("outputs", name), "w") as f:
    f.write(text)
amlflow.log("acc", float(len(text)) / 10, step=0)
amlflow.log_params({"text": text})
)py";

}  // namespace

BOOST_AUTO_TEST_SUITE(results_e2e)

// Cache keys: an unchanged pipeline is reused whole; a step whose hash changed (its own
// arguments, or a step it reads from) runs again; a step whose input step was forced to
// run again is reused when that input came out with the same content.
BOOST_AUTO_TEST_CASE(cache_follows_content_force_and_force_step) {
    // The pipeline in a folder of its own: the sandbox's root also holds amlflow's
    // stdout files, which would change the source snapshot of every run.
    Sandbox box;
    box.write("proj/writer.py", kWriter);
    box.write("proj/reader.py", "import sys, shutil\nshutil.copy(sys.argv[1], 'outputs/copy.txt')\n");
    box.write("proj/p.amlflow", R"(
param salt: string = "1"
param text: string = "same"
experiment e {
  job a { script = "writer.py"  args = ["data.txt", text, salt] }
  job b { script = "reader.py"  args = [a.outputs / "data.txt"] }
}
)");
    std::vector<std::vector<std::string>> invocations = {
        {},                            // 0: first run
        {},                            // 1: unchanged
        {"--set", "salt=2"},           // 2: a's arguments changed
        {"--force-step", "a"},         // 3: a again, same hash, same output
        {"--force-step", "b"},         // 4
        {"--force"},                   // 5
        {"--set", "text=different"},   // 6: a's output changed
    };
    for (const auto& extra : invocations) {
        std::vector<std::string> args = {"run", "proj/p.amlflow"};
        args.insert(args.end(), extra.begin(), extra.end());
        Outcome outcome = box.run(args);
        BOOST_REQUIRE_MESSAGE(outcome.code == 0, outcome);
    }
    auto store = box.store();
    std::vector<std::string> runs = run_ids(*store);
    BOOST_REQUIRE_EQUAL(runs.size(), invocations.size());
    auto state = [&](size_t run, const std::string& step) { return steps_by_name(*store, runs[run])[step].state; };
    BOOST_TEST(state(0, "a") == StepState::Succeeded);
    BOOST_TEST(state(0, "b") == StepState::Succeeded);
    BOOST_TEST(state(1, "a") == StepState::Cached);
    BOOST_TEST(state(1, "b") == StepState::Cached);
    BOOST_TEST(attempt_count(*store, runs[1]) == 0u);  // nothing started
    BOOST_TEST(steps_by_name(*store, runs[1])["a"].cached_from == runs[0]);
    BOOST_TEST(state(2, "a") == StepState::Succeeded);
    BOOST_TEST(state(2, "b") == StepState::Succeeded);
    BOOST_TEST(state(3, "a") == StepState::Succeeded);
    BOOST_TEST(state(3, "b") == StepState::Cached);
    BOOST_TEST(state(4, "a") == StepState::Cached);
    BOOST_TEST(state(4, "b") == StepState::Succeeded);
    BOOST_TEST(state(5, "a") == StepState::Succeeded);
    BOOST_TEST(state(5, "b") == StepState::Succeeded);
    BOOST_TEST(state(6, "b") == StepState::Succeeded);
    BOOST_TEST(read_file(steps_by_name(*store, runs[6])["b"].outputs / "copy.txt") == "different");
    // A cached step's outputs are the original's.
    BOOST_TEST(read_file(steps_by_name(*store, runs[1])["b"].outputs / "copy.txt") == "same");
    // Metrics and params through the stdlib helper, per step, rank and attempt.
    auto metrics = store->metrics_of(runs[0], "a", "acc");
    BOOST_REQUIRE(metrics);
    BOOST_REQUIRE_EQUAL(metrics->size(), 1u);
    BOOST_TEST(metrics->front().value == 0.4);
    BOOST_TEST(metrics->front().rank == 0);
    BOOST_TEST(metrics->front().step_index == 0);
    auto params = store->params_of(runs[0], "a");
    BOOST_REQUIRE(params);
    BOOST_REQUIRE_EQUAL(params->size(), 1u);
    BOOST_TEST(params->front().second == "\"same\"");
    Outcome shown = box.run({"metrics", runs[0]});
    BOOST_TEST(shown.code == 0);
    BOOST_TEST(contains(shown.out, "acc"));
    BOOST_TEST(contains(shown.out, "0.4"));
    BOOST_TEST(contains(shown.out, "text=\"same\""));
}

// The registry: versions per name, identical content answered by its version, lineage.
BOOST_AUTO_TEST_CASE(registry_versions_lineage_and_identical_reregistration) {
    Sandbox box;
    box.write("writer.py", kWriter);
    box.write("p.amlflow", R"(
param text: string = "weights-A"
experiment e {
  job train { script = "writer.py"  args = ["model.pt", text] }
  register model clf {
    name = "classifier"
    path = train.outputs / "model.pt"
    description = "a test model"
    tags = { stage = "test" }
  }
}
)");
    Outcome first = box.run({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(first.code == 0, first);
    BOOST_TEST(contains(first.err, "model 'classifier' version 1: registered"));
    Outcome again = box.run({"run", "p.amlflow", "--force"});
    BOOST_REQUIRE_MESSAGE(again.code == 0, again);
    BOOST_TEST(contains(again.err, "model 'classifier' version 1: already registered with identical content"));
    Outcome second = box.run({"run", "p.amlflow", "--set", "text=weights-BB"});
    BOOST_REQUIRE_MESSAGE(second.code == 0, second);

    auto store = box.store();
    std::vector<std::string> runs = run_ids(*store);
    auto models = store->list_models("classifier");
    BOOST_REQUIRE(models);
    BOOST_REQUIRE_EQUAL(models->size(), 2u);
    const ModelRecord& v1 = (*models)[0];
    const ModelRecord& v2 = (*models)[1];
    BOOST_TEST(v1.version == 1);
    BOOST_TEST(v2.version == 2);
    BOOST_TEST(v1.run_id == runs[0]);
    BOOST_TEST(v2.run_id == runs[2]);
    BOOST_TEST(v2.step == "clf");
    BOOST_TEST(v2.source_step == "train");
    BOOST_TEST(v2.source_attempt == 0);
    BOOST_TEST(v1.hash != v2.hash);
    BOOST_TEST(contains(v2.tags_json, "\"stage\":\"test\""));
    BOOST_TEST(contains(v2.metrics_json, "\"acc\":1.0"));
    BOOST_TEST(read_file(v1.path) == "weights-A");
    // Content-addressed: the copy lives under its own sha256.
    BOOST_TEST(v1.path.parent_path().filename().string() == v1.hash);

    Outcome show = box.run({"models", "show", "classifier"});
    BOOST_TEST(show.code == 0);
    BOOST_TEST(contains(show.out, "model classifier version 2"));
    BOOST_TEST(contains(show.out, "from: step 'train'"));
    Outcome download = box.run({"models", "download", "classifier:1", (box.root() / "got").string()});
    BOOST_REQUIRE_MESSAGE(download.code == 0, download);
    BOOST_TEST(read_file(box.root() / "got" / "model.pt") == "weights-A");
    Outcome missing = box.run({"models", "show", "classifier:9"});
    BOOST_TEST(missing.code == 1);
    BOOST_TEST(contains(missing.err, "versions 1 to 2"));
}

// A referenced file that does not exist fails the step that reads it, naming both steps.
// Paths that try to leave their folder are refused, and nothing is copied.
BOOST_AUTO_TEST_CASE(missing_references_and_escaping_paths) {
    Sandbox box;
    box.write("p.amlflow", R"(
param which: string = "missing"
experiment e {
  job train {
    command = ["/bin/sh", "-c", "mkdir -p outputs/dir && echo ok > outputs/dir/ok.txt && ln -s /etc/hostname outputs/dir/link && ln -s /etc/hostname outputs/link.pt", which]
  }
  register model missing { path = train.outputs / "model.pt" }
  register model linked  { path = train.outputs / "link.pt" }
  download folder   { path = train.outputs / "dir", to = "got" }
  download through  { path = train.outputs / "dir" / "ok.txt", to = "linked" }
}
)");
    // A destination that is a symlink out of the folder: the run refuses to write there.
    fs::create_directories(box.root().parent_path() / (box.root().filename().string() + "-elsewhere"));
    fs::create_directory_symlink(box.root().parent_path() / (box.root().filename().string() + "-elsewhere"),
                                 box.root() / "linked");
    // Destinations written outside the folder are refused before anything runs.
    box.write("q.amlflow", R"(
experiment e {
  job train { command = ["/bin/sh", "-c", "echo ok > outputs/ok.txt"] }
  download climbing { path = train.outputs / "ok.txt", to = "../outside" }
  download absolute { path = train.outputs / "ok.txt", to = "/tmp/amlflow-absolute-download" }
}
)");
    Outcome checked = box.run({"run", "q.amlflow"});
    BOOST_TEST(checked.code == 1);
    BOOST_TEST(contains(checked.err, "'to' of download 'climbing' leaves the folder of the file: '../outside'"), checked);
    BOOST_TEST(contains(checked.err, "'to' of download 'absolute' leaves the folder of the file"), checked);
    Outcome outcome = box.run({"run", "p.amlflow"});
    BOOST_TEST(outcome.code == 2);
    BOOST_TEST(contains(outcome.err, "step 'missing' needs train.outputs / \"model.pt\" from step 'train'"), outcome);
    BOOST_TEST(contains(outcome.err, "does not exist"));
    BOOST_TEST(contains(outcome.err, "train.outputs / \"link.pt\" leaves its folder through a symlink"), outcome);
    BOOST_TEST(contains(outcome.err, "leads outside the folder of the file"), outcome);
    BOOST_TEST(contains(outcome.err, "the symlink 'link' in"), outcome);
    BOOST_TEST(contains(outcome.err, "points outside it"));
    BOOST_TEST(!fs::exists(box.root().parent_path() / "outside"));
    BOOST_TEST(!fs::exists("/tmp/amlflow-absolute-download"));
    BOOST_TEST(!fs::exists(box.root() / "got" / "ok.txt"));  // refused before copying anything
    auto store = box.store();
    auto steps = steps_by_name(*store, box.only_run());
    BOOST_TEST(steps["train"].state == StepState::Succeeded);
    BOOST_TEST(fs::is_empty(box.root().parent_path() / (box.root().filename().string() + "-elsewhere")));
    // The reason stays with the step, for `runs show` and reports.
    Outcome shown = box.run({"runs", "show", box.only_run()});
    BOOST_TEST(contains(shown.out, "failed: step 'missing' needs train.outputs / \"model.pt\""), shown);
    Outcome report = box.run({"report", box.only_run(), "-o", (box.root() / "report.html").string()});
    BOOST_REQUIRE_MESSAGE(report.code == 0, report);
    BOOST_TEST(contains(read_file(box.root() / "report.html"), "failed: step &#39;missing&#39; needs train.outputs"));
    for (const char* step : {"missing", "linked", "folder", "through"}) {
        BOOST_TEST(steps[step].state == StepState::Failed, step);
    }
    auto models = store->list_models();
    BOOST_REQUIRE(models);
    BOOST_TEST(models->empty());
    fs::remove_all(box.root().parent_path() / (box.root().filename().string() + "-elsewhere"));
}

// SIGKILL of amlflow in the middle of a step, then --resume: completed steps are kept
// (not run again), the unfinished one runs again as its next attempt, and the store
// passes integrity_check. A run still running cannot be resumed beside itself.
BOOST_AUTO_TEST_CASE(sigkill_mid_step_then_resume) {
    Sandbox box;  // the pipeline in its own folder: a resumed run checks its source is unchanged
    box.write("proj/p.amlflow", R"(
experiment e {
  job first { command = ["/bin/sh", "-c", "echo one > outputs/one.txt"] }
  job slow {
    command = ["/bin/sh", "-c", "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then touch ../../../../started; sleep 60; fi; echo two > outputs/two.txt"]
    after = [first]
  }
  job last { command = ["/bin/sh", "-c", "cat \"$AMLFLOW_INPUT_TWO\" > outputs/three.txt"], inputs = { two = slow.outputs / "two.txt" } }
}
)");
    auto running = box.start({"run", "proj/p.amlflow"});
    fs::path started = box.home() / "started";
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return fs::exists(started); }, 30), "the slow step never started");
    std::string run = box.only_run();
    Outcome beside = box.run({"run", "--resume", run});
    BOOST_TEST(beside.code == 3);  // the run is busy: its own exit code, and who holds it
    BOOST_TEST(contains(beside.err, "another amlflow (pid " + std::to_string(running->pid()) + ") is running it"), beside);
    running->signal(SIGKILL);
    Outcome killed = running->wait(10);
    BOOST_TEST(killed.signal == SIGKILL);
    {
        auto store = box.store();
        BOOST_TEST(store->find_run(run)->state == RunState::Running);
        BOOST_TEST(steps_by_name(*store, run)["first"].state == StepState::Succeeded);
    }
    Outcome resumed = box.run({"run", "--resume", run.substr(0, 17)});
    BOOST_REQUIRE_MESSAGE(resumed.code == 0, resumed);
    auto store = box.store();
    BOOST_TEST(store->find_run(run)->state == RunState::Succeeded);
    auto steps = steps_by_name(*store, run);
    BOOST_TEST(steps["first"].state == StepState::Succeeded);
    BOOST_TEST(attempts(*store, run, "first").size() == 1u);  // kept, not run again
    auto slow = attempts(*store, run, "slow");
    BOOST_REQUIRE_EQUAL(slow.size(), 2u);
    BOOST_TEST(slow[0].state == AttemptState::Canceled);
    BOOST_TEST(failure_of(slow[0])["reason"] == "interrupted");
    BOOST_TEST(slow[1].state == AttemptState::Succeeded);
    BOOST_TEST(read_file(steps["last"].outputs / "three.txt") == "two\n");
    BOOST_TEST(store->check_integrity(), store->last_error());
    BOOST_TEST(run_ids(*store).size() == 1u);
}

// A sweep: trials drawn from the space (grid), one at a time; a trial far behind the
// best is stopped early by the bandit policy; the best trial's outputs are what a later
// step reads.
BOOST_AUTO_TEST_CASE(sweep_best_trial_and_bandit_early_stop) {
    Sandbox box;
    box.write("trial.py", R"py(
import sys, time
import amlflow
quality = float(sys.argv[1])
for step in range(4):
    amlflow.log("score", quality * (step + 1), step=step)
if quality < 0.5:
    time.sleep(60)   # a poor trial: the bandit policy stops it long before this ends
open("outputs/quality.txt", "w").write(str(quality))
)py");
    box.write("p.amlflow", R"(
experiment e {
  job trial(quality: float = 1.0) { script = "trial.py"  args = [quality] }
  sweep tune over trial {
    space { quality = choice(1.0, 0.1, 0.8) }
    sampling   = grid
    objective  = maximize("score")
    parallel   = 1
    early_stop = bandit { slack = 0.2 }
  }
  download best { path = tune.best.outputs / "quality.txt", to = "best" }
}
)");
    Outcome outcome = box.run({"run", "p.amlflow"}, 50);
    BOOST_REQUIRE_MESSAGE(outcome.code == 0, outcome);
    BOOST_TEST(outcome.seconds < 45);
    BOOST_TEST(contains(outcome.err, "trial 'tune[1]' stopped early"), outcome);
    BOOST_TEST(read_file(box.root() / "best" / "quality.txt") == "1.0");
    auto store = box.store();
    auto steps = steps_by_name(*store, box.only_run());
    BOOST_TEST(steps["tune[0]"].state == StepState::Succeeded);
    BOOST_TEST(steps["tune[1]"].state == StepState::StoppedEarly);
    BOOST_TEST(steps["tune[2]"].state == StepState::Succeeded);
    json result = json::parse(steps["tune"].result_json);
    BOOST_TEST(result["best"] == "tune[0]");
    BOOST_TEST(result["trials"].size() == 3u);
    BOOST_TEST(result["trials"][1]["state"] == "stopped early");
    // One name for the state wherever it shows: not "stopped", not "canceled" (what a
    // person stops).
    BOOST_TEST(contains(outcome.err, "step 'tune[1]' stopped early in"), outcome);
    BOOST_TEST(contains(outcome.err, "tune[1]  trial     stopped early"), outcome);
    Outcome shown = box.run({"runs", "show", box.only_run()});
    BOOST_TEST(contains(shown.out, "step tune[1] (trial): stopped early, 1 attempt"), shown);
    BOOST_TEST(contains(shown.out, "attempt 1: stopped early"), shown);
    Outcome metrics = box.run({"metrics", box.only_run(), "--step", "tune"});
    BOOST_TEST(contains(metrics.out, "stopped early"), metrics);
}

// Bayesian sampling (TPE) on a quadratic, end to end, replayed three ways. A run is
// SIGKILLed while trial 7 runs, and a new run takes the trials finished before the kill
// from the cache and draws the others; a --force run runs every trial again; another
// --force run is SIGKILLed at trial 7 and resumed, keeping its finished trials. Each draws
// every trial at the same point from the same results: the same trials, hash for hash.
BOOST_AUTO_TEST_CASE(bayesian_sweep_replays_on_resume_cache_and_force) {
    Sandbox box;  // the pipeline in its own folder: the sandbox's root gets amlflow's outputs
    fs::path armed = box.path("armed"), started = box.path("started");
    box.write("proj/quadratic.py", R"py(
import os, sys, time
import amlflow
x, y = float(sys.argv[1]), float(sys.argv[2])
if os.environ["AMLFLOW_STEP"] == "tune[7]" and os.path.exists(sys.argv[3]):
    os.remove(sys.argv[3])
    open(sys.argv[4], "w").close()
    time.sleep(60)   # killed with amlflow before this ends
amlflow.log("score", -(x - 0.3) ** 2 - (y - 0.7) ** 2, step=0)
)py");
    box.write("proj/p.amlflow", R"(
experiment e {
  job trial(x: float = 0.5, y: float = 0.5) {
    source = "."
    script = "quadratic.py"
    args   = [x, y, ")" + armed.string() + R"(", ")" + started.string() + R"("]
  }
  sweep tune over trial {
    space     { x = uniform(0, 1)  y = uniform(0, 1) }
    sampling  = bayesian
    objective = maximize("score")
    trials    = 14
    parallel  = 2
  }
}
)");
    // A run killed at trial 7: the trials it finished (at least 0 to 5, which trial 7 waits
    // for with parallel = 2), by hash.
    auto killed_at_7 = [&](const std::vector<std::string>& args) {
        fs::remove(started);
        box.write("armed", "");
        auto running = box.start(args);
        BOOST_REQUIRE_MESSAGE(wait_until([&] { return fs::exists(started); }, 60), "trial 7 never started");
        running->signal(SIGKILL);
        BOOST_TEST(running->wait(10).signal == SIGKILL);
        auto store = box.store();
        std::vector<std::string> ids = run_ids(*store);
        std::map<std::string, std::string> finished;
        for (const auto& [name, step] : steps_by_name(*store, ids.back())) {
            if (step.kind == "trial" && step.state == StepState::Succeeded) finished[name] = step.hash;
        }
        BOOST_TEST(finished.size() >= 6u);
        return std::make_pair(ids.back(), finished);
    };
    auto [first, first_finished] = killed_at_7({"run", "proj/p.amlflow"});
    Outcome cached = box.run({"run", "proj/p.amlflow"}, 120);
    BOOST_REQUIRE_MESSAGE(cached.code == 0, cached);
    BOOST_TEST(contains(cached.err, "bayesian sampling (TPE), the first 5 trials at random"), cached);
    Outcome forced = box.run({"run", "--force", "proj/p.amlflow"}, 120);
    BOOST_REQUIRE_MESSAGE(forced.code == 0, forced);
    auto [last, last_finished] = killed_at_7({"run", "--force", "proj/p.amlflow"});
    Outcome resumed = box.run({"run", "--resume", last}, 120);
    BOOST_REQUIRE_MESSAGE(resumed.code == 0, resumed);

    auto store = box.store();
    std::vector<std::string> ids = run_ids(*store);  // killed, cached, forced, killed and resumed
    BOOST_REQUIRE_EQUAL(ids.size(), 4u);
    BOOST_REQUIRE(ids[0] == first);
    BOOST_REQUIRE(ids[3] == last);
    std::vector<std::map<std::string, StepRecord>> runs;
    std::vector<json> trials;  // each completed run's sweep result: every trial's params, value
    for (size_t r = 1; r < ids.size(); ++r) {
        runs.push_back(steps_by_name(*store, ids[r]));
        BOOST_TEST(runs.back()["tune"].state == StepState::Succeeded, ids[r]);
        json result = json::parse(runs.back()["tune"].result_json);
        BOOST_TEST_REQUIRE(result["trials"].size() == 14u);
        trials.push_back(result["trials"]);
    }
    for (int i = 0; i < 14; ++i) {
        std::string name = "tune[" + std::to_string(i) + "]";
        StepState reused = first_finished.count(name) ? StepState::Cached : StepState::Succeeded;
        BOOST_TEST(runs[0][name].state == reused, name);
        BOOST_TEST(runs[1][name].state == StepState::Succeeded, name);
        BOOST_TEST(runs[2][name].state == StepState::Succeeded, name);
        if (first_finished.count(name)) BOOST_TEST(runs[0][name].hash == first_finished[name], name);
        if (last_finished.count(name)) BOOST_TEST(runs[2][name].hash == last_finished[name], name);
        for (int r : {1, 2}) {
            BOOST_TEST(runs[r][name].hash == runs[0][name].hash, name);
            BOOST_TEST(trials[r][i]["params"] == trials[0][i]["params"], name);
            BOOST_TEST(trials[r][i]["value"] == trials[0][i]["value"], name);
        }
    }
    BOOST_TEST(attempts(*store, last, "tune[7]").size() == 2u);  // interrupted, then again
    BOOST_TEST(attempts(*store, last, "tune[0]").size() == 1u);  // kept
    // A sanity check only (the seed follows the sandbox's paths; test_tpe_sampler.cc
    // measures TPE against random sampling): the best trial is near (0.3, 0.7).
    double best = json::parse(runs[1]["tune"].result_json)["objective"]["value"].get<double>();
    BOOST_TEST_MESSAGE("best of 14: " << best);
    BOOST_TEST(best > -0.15);
}

// The flagship pipeline with real PyTorch (2 CPU ranks, gloo) and onnx: train → sweep →
// register → export ONNX → download; then the same run again is all cached and starts
// no process.
BOOST_AUTO_TEST_CASE(birds_end_to_end_then_all_cached) {
    if (!have_torch()) {
        BOOST_TEST_MESSAGE("skipped: /usr/bin/python3 has no torch");
        return;
    }
    Sandbox box;
    fs::copy(source_dir() / "examples" / "birds", box.root() / "birds", fs::copy_options::recursive);
    fs::remove_all(box.root() / "birds" / "downloads");
    std::vector<std::string> args = {"run", "birds/birds.amlflow", "--set", "epochs=1", "--set", "num_trials=2"};
    Outcome first = box.run(args, 300);
    BOOST_REQUIRE_MESSAGE(first.code == 0, first);
    BOOST_TEST(contains(first.err, "onnx.checker passed"), first);
    BOOST_TEST(contains(first.err, "numeric check"));
    Outcome second = box.run(args, 60);
    BOOST_REQUIRE_MESSAGE(second.code == 0, second);

    auto store = box.store();
    std::vector<std::string> runs = run_ids(*store);
    BOOST_REQUIRE_EQUAL(runs.size(), 2u);
    auto steps = steps_by_name(*store, runs[0]);
    for (const char* step : {"tune", "bird_classifier", "bird_classifier_onnx", "best_model"}) {
        BOOST_TEST(steps[step].state == StepState::Succeeded, step);
    }
    // Two ranks per trial, each recorded with its metrics.
    auto ranks = store->ranks_of(runs[0], "tune[0]", 0);
    BOOST_REQUIRE(ranks);
    BOOST_TEST(ranks->size() == 2u);
    auto metrics = store->metrics_of(runs[0], "tune[0]", "val_acc");
    BOOST_REQUIRE(metrics);
    BOOST_TEST(!metrics->empty());
    json exported = json::parse(steps["bird_classifier_onnx"].result_json);
    BOOST_TEST(exported["export"]["checker"] == "passed");
    std::string onnx = exported["results"]["file"].get<std::string>();
    BOOST_TEST(fs::file_size(onnx) > 1000u);
    BOOST_TEST(fs::exists(box.root() / "birds" / "downloads" / "birds" / "model.pt"));
    auto model = store->find_model("pytorch-birds");
    BOOST_REQUIRE(model);
    BOOST_TEST(model->version == 1);
    BOOST_TEST(contains(model->source_step, "tune["));
    BOOST_TEST(contains(model->metrics_json, "val_acc"));

    // The second run: every step cached, no attempt begun, no process started.
    auto again = steps_by_name(*store, runs[1]);
    for (const char* step : {"tune", "bird_classifier", "bird_classifier_onnx", "best_model"}) {
        BOOST_TEST(again[step].state == StepState::Cached, step);
        BOOST_TEST(again[step].cached_from == runs[0]);
    }
    BOOST_TEST(attempt_count(*store, runs[1]) == 0u);
    BOOST_TEST(store->list_models()->size() == 1u);
    // What `runs show` says each step produced.
    Outcome shown = box.run({"runs", "show", runs[0]});
    BOOST_TEST(contains(shown.out, "best trial: tune["), shown);
    BOOST_TEST(contains(shown.out, "model: pytorch-birds version 1"), shown);
    BOOST_TEST(contains(shown.out, "onnx: "), shown);
    BOOST_TEST(contains(shown.out, "downloaded to: "), shown);
    Outcome cached = box.run({"runs", "show", runs[1]});
    BOOST_TEST(contains(cached.out, "cached: reused from run " + runs[0]), cached);
    BOOST_TEST(store->check_integrity(), store->last_error());
}

BOOST_AUTO_TEST_SUITE_END()
