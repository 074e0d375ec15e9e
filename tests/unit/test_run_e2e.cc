// `amlflow run` end to end, with real processes: the binary is started the way a person
// starts it, on pipelines written into a temporary folder whose ranks are /bin/sh or
// /usr/bin/python3 scripts, and what it did is read back from its stdout and stderr, from
// the files the ranks wrote, from /proc, and from the run store.
//
// AMLFLOW_BIN names build/amlflow (amlflow-launch beside it). Every run has its own
// temporary folder with AMLFLOW_HOME inside it, so no store lands in the repository; every
// wait is bounded (amlflow is SIGKILLed and the test fails past its deadline), so a broken
// runtime fails these tests, never hangs them.
//
// One test waits out the local backend's SIGTERM -> SIGKILL grace period (5 s, not
// settable from a file): the Ctrl-C of a rank that ignores SIGTERM. The file takes about
// 40 s, 15 of them the two PyTorch tests (skipped when /usr/bin/python3 has no torch).
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <sqlite3.h>

#include "tests/unit/e2e_harness.h"


// =======================================================================================

BOOST_AUTO_TEST_SUITE(run_e2e)

// 1. Every rank of every attempt gets torchrun's environment and amlflow's own, runs in
// the snapshot, and writes outputs and checkpoints where the store keeps them.
BOOST_AUTO_TEST_CASE(rank_environment_every_rank_and_attempt) {
    Sandbox box;
    box.write("src/data.txt", "data from the source folder\n");
    box.write("src/secret.txt", "must not be snapshotted\n");
    box.write("src/.amlignore", "secret.txt\n");
    box.write("src/dump.py", R"PY(import json, os, sys, time
rank = os.environ.get("RANK", "0")  # job b has no distribution: no RANK
attempt = os.environ.get("AMLFLOW_ATTEMPT", "?")
out = os.environ["AMLFLOW_OUTPUTS"]
ckpt = os.path.join(os.environ["AMLFLOW_CHECKPOINTS"], "ckpt-" + rank + ".txt")
info = {
    "env": dict(os.environ),
    "cwd": os.getcwd(),
    "data": open("data.txt").read() if os.path.exists("data.txt") else None,
    "secret_present": os.path.exists("secret.txt"),
    "script_present": os.path.exists("dump.py"),
    "ckpt_before": open(ckpt).read() if os.path.exists(ckpt) else None,
}
if attempt == "0":
    with open(ckpt, "w") as f:
        f.write("written by rank " + rank + " on attempt 0")
try:
    with open(os.path.join("outputs", "rel-" + rank + "-" + attempt + ".txt"), "w") as f:
        f.write("relative from rank " + rank)
    info["relative_write"] = "ok"
except Exception as e:
    info["relative_write"] = repr(e)
tmp = os.path.join(out, ".env-" + rank + "-" + attempt + ".tmp")
with open(tmp, "w") as f:
    json.dump(info, f)
# Printed before the file is in place: rank 3 fails once it sees the files, and the line
# must be in the pipe by then.
print("rank", rank, "attempt", attempt, "dumped", flush=True)
os.rename(tmp, os.path.join(out, "env-" + rank + "-" + attempt + ".json"))
if rank == "3" and attempt == "0":
    deadline = time.time() + 20
    while time.time() < deadline and not all(
            os.path.exists(os.path.join(out, "env-%d-0.json" % r)) for r in range(3)):
        time.sleep(0.02)
    print("rank 3 fails on purpose", flush=True)
    sys.exit(1)
)PY");
    box.write("p.amlflow", R"(
environment py {
  python    = "/usr/bin/python3"
  variables = { FROM_ENVIRONMENT = "yes" }
}
experiment e {
  job a {
    source       = "src"
    script       = "dump.py"
    environment  = py
    distribution = pytorch { nodes = 2, processes_per_node = 2 }
    restarts     = 1
    backoff      = 100ms
    timeout      = 60s
  }
  job b {
    source      = "src"
    script      = "dump.py"
    environment = py
    variables   = { OMP_NUM_THREADS = "3", PYTHONUNBUFFERED = "0", FROM_JOB = "job" }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 90);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);

    auto store = box.store();
    std::string run = box.only_run();
    auto a = step_record(*store, run, "a");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->state == StepState::Succeeded);
    BOOST_TEST(a->attempts == 2);
    std::vector<AttemptRecord> tries = attempts(*store, run, "a");
    BOOST_REQUIRE_EQUAL(tries.size(), 2u);
    BOOST_TEST(tries[0].state == AttemptState::Failed);
    BOOST_TEST(failure_of(tries[0]).value("rank", -2) == 3);
    BOOST_TEST(tries[1].state == AttemptState::Succeeded);

    fs::path outputs = a->outputs;
    fs::path home = fs::canonical(box.home());
    fs::path src = fs::canonical(box.path("src"));
    std::string port[2];
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (int rank = 0; rank < 4; ++rank) {
            BOOST_TEST_CONTEXT("step a, rank " << rank << ", attempt " << attempt) {
                fs::path file = outputs / ("env-" + std::to_string(rank) + "-" + std::to_string(attempt) + ".json");
                BOOST_REQUIRE_MESSAGE(fs::exists(file), file << " was not written\n" << r);
                json info = json::parse(read_file(file), nullptr, false);
                BOOST_REQUIRE(info.is_object());
                const json& env = info["env"];
                auto var = [&](const char* name) { return env.value(name, std::string("<unset>")); };
                BOOST_TEST(var("RANK") == std::to_string(rank));
                BOOST_TEST(var("LOCAL_RANK") == std::to_string(rank % 2));
                BOOST_TEST(var("WORLD_SIZE") == "4");
                BOOST_TEST(var("LOCAL_WORLD_SIZE") == "2");
                BOOST_TEST(var("GROUP_RANK") == std::to_string(rank / 2));
                BOOST_TEST(var("NODE_RANK") == std::to_string(rank / 2));
                BOOST_TEST(var("GROUP_WORLD_SIZE") == "2");
                BOOST_TEST(var("ROLE_RANK") == std::to_string(rank));
                BOOST_TEST(var("ROLE_WORLD_SIZE") == "4");
                BOOST_TEST(var("MASTER_ADDR") == "127.0.0.1");
                BOOST_TEST(var("MASTER_PORT") == std::to_string(tries[attempt].master_port));
                if (rank == 0) port[attempt] = var("MASTER_PORT");
                BOOST_TEST(var("MASTER_PORT") == port[attempt]);  // one port per attempt
                BOOST_TEST(var("TORCHELASTIC_RESTART_COUNT") == std::to_string(attempt));
                BOOST_TEST(var("TORCHELASTIC_MAX_RESTARTS") == "1");
                BOOST_TEST(var("TORCHELASTIC_RUN_ID") == run);
                BOOST_TEST(var("OMP_NUM_THREADS") == "1");
                BOOST_TEST(var("PYTHONUNBUFFERED") == "1");
                BOOST_TEST(var("FROM_ENVIRONMENT") == "yes");
                BOOST_TEST(var("AMLFLOW_RUN_ID") == run);
                BOOST_TEST(var("AMLFLOW_STEP") == "a");
                BOOST_TEST(var("AMLFLOW_ATTEMPT") == std::to_string(attempt));
                BOOST_TEST(fs::equivalent(var("AMLFLOW_OUTPUTS"), outputs));
                BOOST_TEST(fs::equivalent(var("AMLFLOW_CHECKPOINTS"), store->step_checkpoints(run, "a")));
                fs::path metrics = var("AMLFLOW_METRICS");
                BOOST_TEST(metrics.filename().string() == "rank-" + std::to_string(rank) + ".jsonl");
                BOOST_TEST(fs::is_directory(metrics.parent_path()));
                // The working directory is a snapshot of src in the store, not src itself.
                std::string cwd = info.value("cwd", "");
                BOOST_TEST(fs::canonical(cwd) != src);
                BOOST_TEST(contains(fs::canonical(cwd).string(), home.string()));
                BOOST_TEST(info["data"] == "data from the source folder\n");
                BOOST_TEST(info["script_present"] == true);
                BOOST_TEST(info["secret_present"] == false);  // .amlignore'd
                // ./outputs is the step's outputs folder.
                BOOST_TEST(info["relative_write"] == "ok");
                BOOST_TEST(fs::exists(outputs / ("rel-" + std::to_string(rank) + "-" + std::to_string(attempt) + ".txt")));
                // A checkpoint written on attempt 0 is there on attempt 1.
                if (attempt == 0) {
                    BOOST_TEST(info["ckpt_before"].is_null());
                } else {
                    BOOST_TEST(info["ckpt_before"] == "written by rank " + std::to_string(rank) + " on attempt 0");
                }
            }
        }
    }
    // The ranks' lines are relayed to stdout with "[step rank]" prefixes.
    for (int rank = 0; rank < 4; ++rank) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            std::string line = "[a " + std::to_string(rank) + "] rank " + std::to_string(rank) + " attempt " +
                               std::to_string(attempt) + " dumped\n";
            BOOST_TEST(contains(r.out, line), line);
        }
    }
    BOOST_TEST(contains(r.out, "[a 3] rank 3 fails on purpose\n"));
    BOOST_TEST(contains(r.out, "[b] rank 0 attempt 0 dumped\n"));
    BOOST_TEST(!port[0].empty());
    BOOST_TEST(port[0] != port[1]);  // a fresh port per attempt
    BOOST_TEST(tries[0].master_port != tries[1].master_port);

    // Variables the file sets: OMP_NUM_THREADS kept; the rank identity not overridden.
    auto b = step_record(*store, run, "b");
    BOOST_REQUIRE(b);
    BOOST_TEST(b->state == StepState::Succeeded);
    fs::path b_env = b->outputs / "env-0-0.json";
    BOOST_REQUIRE_MESSAGE(fs::exists(b_env), b_env << " missing; files: " << [&] {
        std::string names;
        std::error_code ec;
        for (auto& e : fs::directory_iterator(b->outputs, ec)) names += e.path().filename().string() + " ";
        return names;
    }());
    json binfo = json::parse(read_file(b_env), nullptr, false);
    BOOST_REQUIRE(binfo.is_object());
    // The file's values win over amlflow's defaults.
    BOOST_TEST(binfo["env"].value("OMP_NUM_THREADS", "") == "3");
    BOOST_TEST(binfo["env"].value("PYTHONUNBUFFERED", "") == "0");
    // No distribution: the script runs as `python dump.py` would, without torchrun's variables.
    for (const char* absent : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"}) {
        BOOST_TEST(!binfo["env"].contains(absent), absent);
    }
    
    BOOST_TEST(binfo["env"].value("FROM_JOB", "") == "job");
    BOOST_TEST(binfo["env"].value("FROM_ENVIRONMENT", "") == "yes");
    BOOST_TEST(binfo["env"].value("AMLFLOW_STEP", "") == "b");
}

// 2. Each kind of failure, on attempt 0 only, is restarted and the step then succeeds;
// the store keeps both attempts and why the first failed.
BOOST_AUTO_TEST_CASE(each_failure_kind_restarted_then_succeeding) {
    Sandbox box;
    box.write("src/exit.sh", "echo \"exit attempt $AMLFLOW_ATTEMPT\"\n"
                             "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then exit 7; fi\n");
    box.write("src/kill.sh", "echo \"kill attempt $AMLFLOW_ATTEMPT\"\n"
                             "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then kill -9 $$; fi\n");
    box.write("src/segv.sh", "ulimit -c 0\necho \"segv attempt $AMLFLOW_ATTEMPT\"\n"
                             "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then kill -SEGV $$; fi\n");
    box.write("src/hang.sh", "echo \"hang attempt $AMLFLOW_ATTEMPT\"\n"
                             "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then sleep 60; fi\necho done\n");
    box.write("src/slow.sh", "echo \"slow attempt $AMLFLOW_ATTEMPT\"\n"
                             "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then sleep 60; fi\necho done\n");
    box.write("src/hang.py", "import os, sys, time\nprint('python attempt', os.environ['AMLFLOW_ATTEMPT'], flush=True)\n"
                             "if os.environ['AMLFLOW_ATTEMPT'] == '0':\n    time.sleep(60)\n");
    // Output without a newline (a progress bar redrawn with \r) is progress: never hung.
    box.write("src/bar.sh", "for i in 1 2 3 4 5 6 7 8; do printf '\\rprogress %d/8' $i; sleep 0.3; done\necho\n");
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
experiment e {
  job hangpy  { source = "src", script = "hang.py", environment = py, restarts = 1, backoff = 100ms, hang_timeout = 1s }
  job bar     { source = "src", command = ["/bin/sh", "bar.sh"], hang_timeout = 1s }
  job exits   { source = "src", command = ["/bin/sh", "exit.sh"], restarts = 1, backoff = 100ms }
  job killed  { source = "src", command = ["/bin/sh", "kill.sh"], restarts = 1, backoff = 100ms }
  job segv    { source = "src", command = ["/bin/sh", "segv.sh"], restarts = 1, backoff = 100ms }
  job hangs   { source = "src", command = ["/bin/sh", "hang.sh"], restarts = 1, backoff = 100ms, hang_timeout = 1s }
  job slow    { source = "src", command = ["/bin/sh", "slow.sh"], restarts = 1, backoff = 100ms, timeout = 2s }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 0, r);
    // Every attempt ended in seconds: nothing waited for the 5 s grace or the 60 s sleeps.
    BOOST_TEST(r.seconds < 20, r);

    auto store = box.store();
    std::string run = box.only_run();
    struct Expect {
        const char* step;
        const char* reason;
        int exit_code;
        int signal;
        int rank;
    };
    const Expect expected[] = {{"exits", "exit", 7, 0, 0},
                               {"killed", "signal", -1, SIGKILL, 0},
                               {"segv", "signal", -1, SIGSEGV, 0},
                               {"hangs", "hang", -1, 0, 0},
                               {"hangpy", "hang", -1, 0, 0},
                               {"slow", "timeout", -1, 0, -1}};
    for (const Expect& e : expected) {
        BOOST_TEST_CONTEXT("step " << e.step) {
            auto step = step_record(*store, run, e.step);
            BOOST_REQUIRE(step);
            BOOST_TEST(step->state == StepState::Succeeded);
            BOOST_TEST(step->attempts == 2);
            std::vector<AttemptRecord> tries = attempts(*store, run, e.step);
            BOOST_REQUIRE_EQUAL(tries.size(), 2u);
            BOOST_TEST(tries[0].state == AttemptState::Failed);
            BOOST_TEST(tries[1].state == AttemptState::Succeeded);
            BOOST_TEST(tries[1].failure_json.empty());
            json failure = failure_of(tries[0]);
            BOOST_REQUIRE_MESSAGE(failure.is_object(), "failure_json: " << tries[0].failure_json);
            BOOST_TEST(failure.value("reason", "") == e.reason, "failure_json: " << tries[0].failure_json);
            BOOST_TEST(failure.value("rank", -2) == e.rank, "failure_json: " << tries[0].failure_json);
            if (e.exit_code >= 0) BOOST_TEST(failure.value("exit_code", -2) == e.exit_code);
            if (e.signal) BOOST_TEST(failure.value("signal", -2) == e.signal, "failure_json: " << tries[0].failure_json);
            BOOST_TEST(!failure.value("message", std::string()).empty());
            // The rank records say how rank 0 ended on each attempt.
            auto ranks0 = store->ranks_of(run, e.step, 0);
            BOOST_REQUIRE(ranks0);
            BOOST_REQUIRE_EQUAL(ranks0->size(), 1u);
            if (e.exit_code >= 0) BOOST_TEST((*ranks0)[0].exit_code == e.exit_code);
            if (e.signal) BOOST_TEST((*ranks0)[0].signal == e.signal);
            auto ranks1 = store->ranks_of(run, e.step, 1);
            BOOST_REQUIRE(ranks1);
            BOOST_REQUIRE_EQUAL(ranks1->size(), 1u);
            BOOST_TEST((*ranks1)[0].exit_code == 0);
            BOOST_TEST((*ranks1)[0].signal == 0);
            // Each attempt has its own log, holding what that attempt printed.
            BOOST_TEST(contains(read_file((*ranks1)[0].log_file), "attempt 1"));
            BOOST_TEST(!contains(read_file((*ranks1)[0].log_file), "attempt 0"));
        }
    }
    // A hung Python rank is asked for its stacks before it is stopped.
    auto hung = store->ranks_of(run, "hangpy", 0);
    BOOST_REQUIRE(hung && hung->size() == 1);
    std::string hung_log = read_file((*hung)[0].log_file);
    BOOST_TEST(contains(hung_log, "most recent call first"), hung_log);
    BOOST_TEST(contains(hung_log, "hang.py"), hung_log);
    // The progress bar kept its rank alive past hang_timeout.
    auto bar = step_record(*store, run, "bar");
    BOOST_REQUIRE(bar);
    BOOST_TEST(bar->state == StepState::Succeeded);
    BOOST_TEST(bar->attempts == 1);

    auto runs = store->list_runs(0);
    BOOST_REQUIRE(runs && runs->size() == 1);
    BOOST_TEST(runs->front().state == RunState::Succeeded);
    BOOST_TEST(runs->front().exit_code == 0);

    // `amlflow logs`: the last attempt by default, an earlier one with --attempt (1-based).
    Outcome last = box.run({"logs", run, "--step", "exits"}, 30);
    BOOST_REQUIRE_MESSAGE(last.finished && last.code == 0, last);
    BOOST_TEST(last.out == "exit attempt 1\n", last);
    Outcome first = box.run({"logs", run, "--step", "exits", "--attempt", "1"}, 30);
    BOOST_REQUIRE_MESSAGE(first.finished && first.code == 0, first);
    BOOST_TEST(first.out == "exit attempt 0\n", first);
    // `amlflow runs show` tells both attempts and why the first failed.
    Outcome show = box.run({"runs", "show", run}, 30);
    BOOST_REQUIRE_MESSAGE(show.finished && show.code == 0, show);
    BOOST_TEST(contains(show.out, "rank 0 exited with code 7"), show);
}

// 3. A job that always fails spends its budget: exit 2, and a failure report naming the
// first rank to fail, how it ended, its last lines, the attempts and the log folder.
BOOST_AUTO_TEST_CASE(budget_exhausted_failure_report) {
    Sandbox box;
    box.write("src/fail.sh", R"(if [ "$RANK" = 1 ]; then
  echo "rank one is about to fail"
  echo "FATAL: imaginary disk quota exceeded on attempt $AMLFLOW_ATTEMPT" >&2
  exit 7
fi
echo "rank zero marker: sleeping"
sleep 60
)");
    box.write("src/die.sh", R"(if [ "$RANK" = 1 ]; then
  echo "about to be killed on attempt $AMLFLOW_ATTEMPT"
  kill -9 $$
fi
sleep 60
)");
    box.write("p.amlflow", R"(
experiment e {
  job flaky {
    source       = "src"
    command      = ["/bin/sh", "fail.sh"]
    distribution = pytorch { processes_per_node = 2 }
    restarts     = 2
    backoff      = 200ms
  }
  job killed {
    source       = "src"
    command      = ["/bin/sh", "die.sh"]
    distribution = pytorch { processes_per_node = 2 }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 2, r);
    BOOST_TEST(r.seconds < 20, r);  // rank 0 was stopped each time, not waited for

    std::string run = box.only_run();
    auto store = box.store();

    std::string report = failure_report(r.err, "flaky");
    BOOST_TEST_INFO("stderr:\n" << r.err);
    BOOST_REQUIRE(!report.empty());
    BOOST_TEST(contains(report, "3 attempts"));
    BOOST_TEST(contains(report, "rank 1"));
    BOOST_TEST(contains(report, "code 7"));
    BOOST_TEST(!contains(report, "rank 0 "));
    BOOST_TEST(contains(report, "FATAL: imaginary disk quota exceeded on attempt 2"));
    BOOST_TEST(contains(report, "rank one is about to fail"));
    BOOST_TEST(!contains(r.err, "rank zero marker"));  // not the root cause's log
    // The log folder it names exists and holds every attempt's rank logs.
    const std::string logs_label = "logs of every rank and attempt: ";
    size_t at = report.find(logs_label);
    BOOST_REQUIRE(at != std::string::npos);
    size_t from = at + logs_label.size();
    fs::path folder = report.substr(from, report.find('\n', from) - from);
    for (int attempt = 0; attempt < 3; ++attempt) {
        for (int rank = 0; rank < 2; ++rank) {
            fs::path log = store->rank_log(run, "flaky", attempt, rank);
            BOOST_TEST(fs::exists(log), log);
            BOOST_TEST(contains(fs::weakly_canonical(log).string(), fs::weakly_canonical(folder).string()),
                       log << " is not under " << folder);
        }
    }
    BOOST_TEST(contains(read_file(store->rank_log(run, "flaky", 1, 1)), "FATAL: imaginary disk quota exceeded on attempt 1"));

    std::string killed = failure_report(r.err, "killed");
    BOOST_REQUIRE(!killed.empty());
    BOOST_TEST(contains(killed, "1 attempt"));
    BOOST_TEST(contains(killed, "rank 1"));
    BOOST_TEST((contains(killed, "SIGKILL") || contains(killed, "signal 9")), killed);
    BOOST_TEST(contains(killed, "about to be killed on attempt 0"));

    auto flaky = step_record(*store, run, "flaky");
    BOOST_REQUIRE(flaky);
    BOOST_TEST(flaky->state == StepState::Failed);
    BOOST_TEST(flaky->attempts == 3);  // restarts + 1
    for (const AttemptRecord& attempt : attempts(*store, run, "flaky")) {
        BOOST_TEST_CONTEXT("attempt " << attempt.number) {
            BOOST_TEST(attempt.state == AttemptState::Failed);
            json failure = failure_of(attempt);
            BOOST_TEST(failure.value("rank", -2) == 1);
            BOOST_TEST(failure.value("reason", "") == "exit");
            BOOST_TEST(failure.value("exit_code", -2) == 7);
        }
    }
    // The backoff doubles: 200 ms before the first restart, 400 ms before the second.
    std::vector<AttemptRecord> flaky_tries = attempts(*store, run, "flaky");
    BOOST_REQUIRE_EQUAL(flaky_tries.size(), 3u);
    BOOST_TEST(flaky_tries[1].started_ms - flaky_tries[0].finished_ms >= 190);
    BOOST_TEST(flaky_tries[2].started_ms - flaky_tries[1].finished_ms >= 390);
    BOOST_TEST(flaky_tries[2].started_ms - flaky_tries[1].finished_ms < 5000);
    BOOST_TEST(contains(r.err, "restart 1 of 2 in 200ms"), r.err);
    BOOST_TEST(contains(r.err, "restart 2 of 2 in 400ms"), r.err);

    auto k = step_record(*store, run, "killed");
    BOOST_REQUIRE(k);
    BOOST_TEST(k->state == StepState::Failed);
    BOOST_TEST(k->attempts == 1);
    auto runs = store->list_runs(0);
    BOOST_TEST(runs->front().state == RunState::Failed);
    BOOST_TEST(runs->front().exit_code == 2);
}

// 4. The retry block decides which failures use the budget.
BOOST_AUTO_TEST_CASE(retry_classifier) {
    Sandbox box;
    box.write("src/oom.sh", "echo 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB' >&2\nexit 1\n");
    box.write("src/exit3.sh", "echo \"attempt $AMLFLOW_ATTEMPT\"\nif [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then exit 3; fi\n");
    box.write("src/exit4.sh", "echo \"attempt $AMLFLOW_ATTEMPT\"\nexit 4\n");
    box.write("src/sig.sh", "ulimit -c 0\nif [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then kill -9 $$; fi\nkill -SEGV $$\n");
    box.write("src/exit2.sh", "exit 2\n");
    box.write("src/nccl.sh", "if [ \"$AMLFLOW_ATTEMPT\" = 0 ]; then echo 'watchdog: NCCL timeout in all_reduce'; else echo 'something else'; fi\n"
                             "exit 1\n");
    box.write("p.amlflow", R"(
experiment e {
  job oom {
    source = "src", command = ["/bin/sh", "oom.sh"], restarts = 3, backoff = 100ms
    retry { never_on_log = ["CUDA out of memory"] }
  }
  job exit3 {
    source = "src", command = ["/bin/sh", "exit3.sh"], restarts = 2, backoff = 100ms
    retry { on_exit = [3] }
  }
  job exit4 {
    source = "src", command = ["/bin/sh", "exit4.sh"], restarts = 2, backoff = 100ms
    retry { on_exit = [3] }
  }
  job sig {
    source = "src", command = ["/bin/sh", "sig.sh"], restarts = 3, backoff = 100ms
    retry { on_signal = ["SIGKILL"] }
  }
  job exit2 {
    source = "src", command = ["/bin/sh", "exit2.sh"], restarts = 3, backoff = 100ms
    retry { never_on_exit = [2] }
  }
  job nccl {
    source = "src", command = ["/bin/sh", "nccl.sh"], restarts = 3, backoff = 100ms
    retry { on_log = ["NCCL timeout"] }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 2, r);
    auto store = box.store();
    std::string run = box.only_run();
    struct Expect {
        const char* step;
        StepState state;
        size_t attempts;
    };
    for (const Expect& e : {Expect{"oom", StepState::Failed, 1}, Expect{"exit3", StepState::Succeeded, 2},
                            Expect{"exit4", StepState::Failed, 1}, Expect{"sig", StepState::Failed, 2},
                            Expect{"exit2", StepState::Failed, 1}, Expect{"nccl", StepState::Failed, 2}}) {
        BOOST_TEST_CONTEXT("step " << e.step << "\n" << r) {
            auto step = step_record(*store, run, e.step);
            BOOST_REQUIRE(step);
            BOOST_TEST(to_string(step->state) == to_string(e.state));
            BOOST_TEST(attempts(*store, run, e.step).size() == e.attempts);
        }
    }
    std::string oom = failure_report(r.err, "oom");
    BOOST_TEST(contains(oom, "CUDA out of memory"), r.err);
    BOOST_TEST(contains(oom, "1 attempt"), r.err);
    BOOST_TEST(contains(r.err, "never_on_log"), r.err);  // the status line says why it was not retried
}

// 5a. Ctrl-C (or SIGTERM, as a scheduler sends it): every rank, and what each started,
// is gone; exit 130; the run canceled, not restarted.
static void stop_run_with(int sig) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/work.sh", R"(sleep 300 &
echo $! > "$PIDDIR/child-$RANK.pid"
echo $$ > "$PIDDIR/rank-$RANK.pid"
echo "rank $RANK running"
wait
)");
    box.write("p.amlflow", "experiment e {\n  job work {\n    source = \"src\"\n"
                           "    command = [\"/bin/sh\", \"work.sh\"]\n"
                           "    distribution = pytorch { processes_per_node = 2 }\n"
                           "    restarts = 3\n    backoff = 100ms\n"
                           "    variables = { PIDDIR = " + quoted(pids) + " }\n  }\n}\n");
    auto process = box.start({"run", "p.amlflow"});
    std::vector<fs::path> files = {pids / "rank-0.pid", pids / "rank-1.pid", pids / "child-0.pid", pids / "child-1.pid"};
    bool ready = wait_until([&] {
        for (const fs::path& f : files) {
            if (read_pid(f) <= 0) return false;
        }
        return true;
    }, 30);
    BOOST_REQUIRE_MESSAGE(ready, "the ranks did not start");
    std::vector<long> all;
    for (const fs::path& f : files) all.push_back(read_pid(f));
    for (long pid : all) BOOST_TEST(process_alive(pid), "pid " << pid << " should be running before Ctrl-C");

    auto sent = Clock::now();
    process->signal(sig);
    Outcome r = process->wait(30);
    double took = seconds_since(sent);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 130, r);
    BOOST_TEST(took < 4.5, "amlflow took " << took << " s to stop ranks that die on SIGTERM");
    bool gone = wait_until([&] {
        for (long pid : all) {
            if (process_alive(pid)) return false;
        }
        return true;
    }, 3);
    for (long pid : all) BOOST_TEST(!process_alive(pid), "pid " << pid << " survived Ctrl-C");
    BOOST_TEST(gone);

    auto store = box.store();
    std::string run = box.only_run();
    auto runs = store->list_runs(0);
    BOOST_TEST(runs->front().state == RunState::Canceled);
    BOOST_TEST(runs->front().exit_code == 130);
    auto step = step_record(*store, run, "work");
    BOOST_REQUIRE(step);
    BOOST_TEST(step->state == StepState::Canceled);
    BOOST_TEST(step->attempts == 1);  // canceled, not restarted
    auto tries = attempts(*store, run, "work");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    BOOST_TEST(tries[0].state == AttemptState::Canceled);
    // The store's pids are the ranks themselves.
    auto ranks = store->ranks_of(run, "work", 0);
    BOOST_REQUIRE(ranks);
    BOOST_REQUIRE_EQUAL(ranks->size(), 2u);
    BOOST_TEST((*ranks)[0].pid == all[0]);
    BOOST_TEST((*ranks)[1].pid == all[1]);
    for (const RankRecord& rank : *ranks) {
        BOOST_TEST(rank.signal == SIGTERM, "rank " << rank.global_rank << " ended with signal " << rank.signal);
        BOOST_TEST(rank.finished_ms > 0);
    }
    for (long pid : all) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
}

BOOST_AUTO_TEST_CASE(ctrl_c_stops_every_process) { stop_run_with(SIGINT); }

BOOST_AUTO_TEST_CASE(sigterm_stops_every_process) { stop_run_with(SIGTERM); }

// 5d. Ctrl-C while a failed job waits out its backoff: no further attempt starts.
BOOST_AUTO_TEST_CASE(ctrl_c_during_backoff) {
    Sandbox box;
    box.write("src/f.sh", "echo \"attempt $AMLFLOW_ATTEMPT\"\nexit 1\n");
    box.write("p.amlflow", R"(
experiment e {
  job f { source = "src", command = ["/bin/sh", "f.sh"], restarts = 3, backoff = 20s }
}
)");
    auto process = box.start({"run", "p.amlflow"});
    fs::path err = box.path("amlflow-1.err");
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return contains(read_file(err), "restart 1 of 3"); }, 30),
                          "the first attempt did not fail: " << read_file(err));
    auto sent = Clock::now();
    process->signal(SIGINT);
    Outcome r = process->wait(30);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 130, r);
    BOOST_TEST(seconds_since(sent) < 3.0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto step = step_record(*store, run, "f");
    BOOST_REQUIRE(step);
    BOOST_TEST(step->state == StepState::Canceled);
    BOOST_TEST(step->attempts == 1);
    BOOST_TEST(store->list_runs(0)->front().state == RunState::Canceled);
}

// 5b. A rank (and its child) that ignores SIGTERM is SIGKILLed after the grace period.
// This test waits for the local backend's grace period (5 s).
BOOST_AUTO_TEST_CASE(ctrl_c_kills_a_rank_that_ignores_sigterm_after_the_grace) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/stubborn.sh", R"(trap '' TERM
sleep 300 &
echo $! > "$PIDDIR/child-${RANK:-0}.pid"
echo $$ > "$PIDDIR/rank-${RANK:-0}.pid"
while :; do sleep 1; done
)");
    box.write("p.amlflow", "experiment e {\n  job stubborn {\n    source = \"src\"\n"
                           "    command = [\"/bin/sh\", \"stubborn.sh\"]\n"
                           "    variables = { PIDDIR = " + quoted(pids) + " }\n  }\n}\n");
    auto process = box.start({"run", "p.amlflow"});
    std::vector<fs::path> files = {pids / "rank-0.pid", pids / "child-0.pid"};
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return read_pid(files[0]) > 0 && read_pid(files[1]) > 0; }, 30),
                          "the rank did not start");
    std::vector<long> all = {read_pid(files[0]), read_pid(files[1])};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // `trap` is in force before the pid is written
    auto sent = Clock::now();
    process->signal(SIGINT);
    // Still there a moment later: it was asked, not killed.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    BOOST_TEST(process_alive(process->pid()), "amlflow should wait for the grace period");
    BOOST_TEST(process_alive(all[0]), "the rank ignores SIGTERM and should live until the grace period ends");
    Outcome r = process->wait(30);
    double took = seconds_since(sent);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 130, r);
    BOOST_TEST(took >= 4.0, "amlflow stopped after " << took << " s, before the 5 s grace period");
    BOOST_TEST(took < 12.0, "amlflow took " << took << " s to SIGKILL a rank after the 5 s grace period");
    wait_until([&] { return !process_alive(all[0]) && !process_alive(all[1]); }, 3);
    for (long pid : all) BOOST_TEST(!process_alive(pid), "pid " << pid << " survived");
    auto runs = box.store()->list_runs(0);
    BOOST_TEST(runs->front().state == RunState::Canceled);
    for (long pid : all) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
}

// 5c. A second Ctrl-C kills at once, without waiting for the grace period.
BOOST_AUTO_TEST_CASE(second_ctrl_c_kills_at_once) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/stubborn.sh", R"(trap '' TERM
echo $$ > "$PIDDIR/rank-${RANK:-0}.pid"
while :; do sleep 1; done
)");
    box.write("p.amlflow", "experiment e {\n  job stubborn {\n    source = \"src\"\n"
                           "    command = [\"/bin/sh\", \"stubborn.sh\"]\n"
                           "    variables = { PIDDIR = " + quoted(pids) + " }\n  }\n}\n");
    auto process = box.start({"run", "p.amlflow"});
    BOOST_REQUIRE(wait_until([&] { return read_pid(pids / "rank-0.pid") > 0; }, 30));
    long pid = read_pid(pids / "rank-0.pid");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto sent = Clock::now();
    process->signal(SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    process->signal(SIGINT);
    Outcome r = process->wait(30);
    double took = seconds_since(sent);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 130, r);
    BOOST_TEST(took < 3.0, "a second Ctrl-C should kill at once; amlflow took " << took << " s");
    wait_until([&] { return !process_alive(pid); }, 3);
    BOOST_TEST(!process_alive(pid));
    if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
}

// 6. SIGKILL of amlflow: the parent-death signal takes the ranks with it, the run's reaper
// their children.
BOOST_AUTO_TEST_CASE(sigkill_of_amlflow_takes_the_ranks_with_it) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/work.sh", R"(sleep 300 &
echo $! > "$PIDDIR/child-$RANK.pid"
echo $$ > "$PIDDIR/rank-$RANK.pid"
wait
)");
    box.write("p.amlflow", "experiment e {\n  job work {\n    source = \"src\"\n"
                           "    command = [\"/bin/sh\", \"work.sh\"]\n"
                           "    distribution = pytorch { processes_per_node = 2 }\n"
                           "    variables = { PIDDIR = " + quoted(pids) + " }\n  }\n}\n");
    auto process = box.start({"run", "p.amlflow"});
    std::vector<fs::path> files = {pids / "rank-0.pid", pids / "rank-1.pid", pids / "child-0.pid", pids / "child-1.pid"};
    BOOST_REQUIRE(wait_until([&] {
        for (const fs::path& f : files) {
            if (read_pid(f) <= 0) return false;
        }
        return true;
    }, 30));
    std::vector<long> ranks = {read_pid(files[0]), read_pid(files[1])};
    std::vector<long> children = {read_pid(files[2]), read_pid(files[3])};
    for (long pid : ranks) BOOST_TEST(process_alive(pid));
    process->signal(SIGKILL);
    Outcome r = process->wait(10);
    BOOST_TEST(r.signaled);
    BOOST_TEST(r.signal == SIGKILL);
    bool gone = wait_until([&] { return !process_alive(ranks[0]) && !process_alive(ranks[1]); }, 2.0);
    BOOST_TEST(gone, "the ranks outlived a SIGKILLed amlflow by more than 2 s");
    // The ranks' own children get no parent-death signal of their own: the run's reaper
    // ends them (test_lifecycle_e2e.cc has the forked and setsid cases).
    bool children_gone = wait_until([&] { return !process_alive(children[0]) && !process_alive(children[1]); }, 2.0);
    BOOST_TEST(children_gone, "a rank's child outlived a SIGKILLed amlflow by more than 2 s");
    for (long pid : ranks) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
    for (long pid : children) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
}

// 7. The log of a rank is complete and in order (the rank writes it itself: a progress
// bar's "\r" redraws are in it, as a terminal would get them), amlflow's display shows the
// bar's last state only, and `amlflow logs` prints the log exactly.
BOOST_AUTO_TEST_CASE(logs_complete_and_in_order) {
    Sandbox box;
    box.write("src/chatty.py", R"PY(import sys, time
# Slow, alternating streams: the log must keep their order.
for i in range(10):
    stream = sys.stdout if i % 2 == 0 else sys.stderr
    stream.write("slow %d on %s\n" % (i, "out" if i % 2 == 0 else "err"))
    stream.flush()
    time.sleep(0.03)
# Fast: 20,000 numbered lines over both streams, a progress bar in the middle.
for i in range(20000):
    if i == 10000:
        for p in range(0, 101, 5):
            sys.stdout.write("\rprogress %3d%% |%s|" % (p, "#" * (p // 5)))
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()
    if i % 3 == 0:
        sys.stderr.write("line %05d err\n" % i)
    else:
        sys.stdout.write("line %05d out\n" % i)
    if i % 100 == 0:
        sys.stdout.flush()
        sys.stderr.flush()
sys.stdout.flush()
sys.stderr.flush()
time.sleep(0.05)
sys.stdout.write("the end, without a newline")
sys.stdout.flush()
)PY");
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
experiment e {
  job chatty { source = "src", script = "chatty.py", environment = py }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    std::string run = box.only_run();
    auto store = box.store();
    auto ranks = store->ranks_of(run, "chatty", 0);
    BOOST_REQUIRE(ranks && ranks->size() == 1);
    fs::path log = (*ranks)[0].log_file;
    BOOST_TEST(fs::equivalent(log, store->rank_log(run, "chatty", 0, 0)));
    std::string text = read_file(log);
    std::vector<std::string> lines = lines_of(text);

    auto check = [](const std::vector<std::string>& lines, const std::string& where) {
        BOOST_TEST_CONTEXT(where) {
            // The slow lines: all ten, in the order written, though on two streams.
            std::vector<std::string> slow;
            for (const std::string& line : lines) {
                if (line.rfind("slow ", 0) == 0) slow.push_back(line);
            }
            BOOST_REQUIRE_EQUAL(slow.size(), 10u);
            for (int i = 0; i < 10; ++i) {
                BOOST_TEST(slow[i] == "slow " + std::to_string(i) + (i % 2 == 0 ? " on out" : " on err"));
            }
            // The fast lines: every one once, each stream's in order.
            int last_out = -1, last_err = -1, count = 0;
            bool in_order = true;
            std::vector<int> seen(20000, 0);
            int progress = 0;
            for (const std::string& line : lines) {
                if (line.rfind("line ", 0) == 0 && line.size() == 14) {
                    int n = std::stoi(line.substr(5, 5));
                    bool err = line.substr(11) == "err";
                    if (err != (n % 3 == 0)) BOOST_ERROR("line on the wrong stream: " << line);
                    int& last = err ? last_err : last_out;
                    if (n <= last) in_order = false;
                    last = n;
                    if (n >= 0 && n < 20000) ++seen[n];
                    ++count;
                } else if (contains(line, "progress")) {
                    ++progress;
                    BOOST_TEST(line == "progress 100% |" + std::string(20, '#') + "|", "progress line: " << line);
                }
            }
            BOOST_TEST(count == 20000);
            BOOST_TEST(in_order);
            BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == 20000);
            BOOST_TEST(progress == 1, "the progress bar should be one line, its last state; found " << progress);
            BOOST_REQUIRE(!lines.empty());
            BOOST_TEST(lines.back() == "the end, without a newline");
        }
    };
    // What a terminal shows of the log: each line as the text after its last "\r".
    std::vector<std::string> shown;
    for (const std::string& line : lines) shown.push_back(line.substr(line.rfind('\r') == std::string::npos ? 0 : line.rfind('\r') + 1));
    check(shown, "the rank log " + log.string());
    BOOST_TEST(contains(text, "progress  50% |##########|\rprogress  55%"), "the redraws are in the log as written");

    // The relay to amlflow's stdout carries the same lines with the step's prefix.
    std::vector<std::string> relayed;
    for (const std::string& line : lines_of(r.out)) {
        if (line.rfind("[chatty] ", 0) == 0) relayed.push_back(line.substr(9));
    }
    check(relayed, "amlflow's stdout");

    // `amlflow logs RUN --step S --rank 0` prints the file as it is.
    Outcome logs = box.run({"logs", run, "--step", "chatty", "--rank", "0"}, 30);
    BOOST_REQUIRE_MESSAGE(logs.finished && logs.code == 0, logs);
    BOOST_TEST(logs.out.size() == text.size());
    BOOST_TEST((logs.out == text), "amlflow logs differs from " << log);
}

// 8. Dependencies pass data; a failure skips its dependents and nothing else.
BOOST_AUTO_TEST_CASE(dependencies_and_independence) {
    Sandbox box;
    fs::path marks = box.path("marks");
    fs::create_directories(marks);
    box.write("src/a.sh", "sleep 0.3\nprintf 'payload of a in %s' \"$AMLFLOW_RUN_ID\" > \"$AMLFLOW_OUTPUTS/x.txt\"\n");
    box.write("src/b.sh", "test -n \"$AMLFLOW_INPUT_X\" || exit 9\n"
                          "cat \"$AMLFLOW_INPUT_X\" > \"$AMLFLOW_OUTPUTS/got.txt\" || exit 8\n"
                          "printf '%s' \"$AMLFLOW_INPUT_X\" > \"$AMLFLOW_OUTPUTS/input-path.txt\"\n");
    box.write("src/f.sh", "echo 'f fails'\nexit 1\n");
    box.write("src/mark.sh", "touch \"$MARKS/$AMLFLOW_STEP\"\n");
    box.write("src/h.sh", "sleep 1.5\ntouch \"$MARKS/h\"\necho 'h done'\n");
    std::string marks_var = "variables = { MARKS = " + quoted(marks) + " }";
    box.write("p.amlflow", "experiment e {\n"
                           "  job a  { source = \"src\", command = [\"/bin/sh\", \"a.sh\"] }\n"
                           "  job b  { source = \"src\", command = [\"/bin/sh\", \"b.sh\"], inputs = { x = a.outputs / \"x.txt\" } }\n"
                           "  job f  { source = \"src\", command = [\"/bin/sh\", \"f.sh\"] }\n"
                           "  job g  { source = \"src\", command = [\"/bin/sh\", \"mark.sh\"], " + marks_var +
                               ", inputs = { y = f.outputs } }\n"
                           "  job g2 { source = \"src\", command = [\"/bin/sh\", \"mark.sh\"], " + marks_var + ", after = f }\n"
                           "  job k  { source = \"src\", command = [\"/bin/sh\", \"mark.sh\"], " + marks_var + ", after = [g] }\n"
                           "  job h  { source = \"src\", command = [\"/bin/sh\", \"h.sh\"], " + marks_var + " }\n"
                           "}\n");
    Outcome r = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 2, r);
    auto store = box.store();
    std::string run = box.only_run();
    std::map<std::string, StepState> want = {{"a", StepState::Succeeded}, {"b", StepState::Succeeded},
                                             {"f", StepState::Failed},    {"g", StepState::Skipped},
                                             {"g2", StepState::Skipped},  {"k", StepState::Skipped},
                                             {"h", StepState::Succeeded}};
    for (const auto& [name, state] : want) {
        BOOST_TEST_CONTEXT("step " << name) {
            auto step = step_record(*store, run, name);
            BOOST_REQUIRE(step);
            BOOST_TEST(to_string(step->state) == to_string(state));
            if (state == StepState::Skipped) BOOST_TEST(step->attempts == 0);
        }
    }
    auto a = step_record(*store, run, "a");
    auto b = step_record(*store, run, "b");
    BOOST_REQUIRE(a && b);
    BOOST_TEST(read_file(b->outputs / "got.txt") == "payload of a in " + run);
    std::string input = read_file(b->outputs / "input-path.txt");
    BOOST_TEST(fs::path(input).is_absolute(), input);
    BOOST_TEST((fs::exists(input) && fs::equivalent(input, a->outputs / "x.txt")), input);
    BOOST_TEST(!fs::exists(marks / "g"));
    BOOST_TEST(!fs::exists(marks / "g2"));
    BOOST_TEST(!fs::exists(marks / "k"));
    BOOST_TEST(fs::exists(marks / "h"));
    // b started only after a had finished.
    auto a_try = attempts(*store, run, "a");
    auto b_try = attempts(*store, run, "b");
    BOOST_REQUIRE(a_try.size() == 1 && b_try.size() == 1);
    BOOST_TEST(b_try[0].started_ms >= a_try[0].finished_ms);
}

// 9. --step runs a step and what it needs; --dry-run starts nothing and shows the argv.
BOOST_AUTO_TEST_CASE(step_selection_and_dry_run) {
    Sandbox box;
    fs::path marks = box.path("marks");
    fs::create_directories(marks);
    box.write("src/mark.sh", "touch \"$MARKS/$AMLFLOW_STEP-${RANK:-0}\"\n");
    std::string common = "source = \"src\", command = [\"/bin/sh\", \"mark.sh\"], variables = { MARKS = " + quoted(marks) + " }";
    box.write("p.amlflow", "experiment e {\n"
                           "  job a { " + common + " }\n"
                           "  job b { " + common + ", inputs = { x = a.outputs }, args = [\"--lr\", 0.5, \"--name\", \"two words\"],\n"
                           "          distribution = pytorch { processes_per_node = 2 }, restarts = 2 }\n"
                           "  job c { " + common + " }\n"
                           "  job d { " + common + ", after = b }\n"
                           "}\n");

    // --dry-run: the processes each job would start, and none started, nothing recorded.
    Outcome dry = box.run({"run", "p.amlflow", "--dry-run"}, 30);
    BOOST_REQUIRE_MESSAGE(dry.finished && dry.code == 0, dry);
    BOOST_TEST(contains(dry.out, "[b 0] \"/bin/sh\" \"mark.sh\" \"--lr\" \"0.5\" \"--name\" \"two words\""), dry);
    BOOST_TEST(contains(dry.out, "[b 1] \"/bin/sh\" \"mark.sh\" \"--lr\" \"0.5\" \"--name\" \"two words\""), dry);
    BOOST_TEST(contains(dry.out, "[a] \"/bin/sh\" \"mark.sh\""), dry);
    BOOST_TEST(contains(dry.out, "[c] \"/bin/sh\" \"mark.sh\""), dry);
    BOOST_TEST(contains(dry.out, "[d] \"/bin/sh\" \"mark.sh\""), dry);
    BOOST_TEST(contains(dry.out, " RANK=1 "), dry);
    // The variables shown are those the ranks would get: TORCHELASTIC_MAX_RESTARTS is the
    // job's `restarts`, as in a real run (test 1).
    BOOST_TEST(contains(dry.out, " TORCHELASTIC_MAX_RESTARTS=2"), dry);
    BOOST_TEST(fs::is_empty(marks), "--dry-run started a process");
    BOOST_TEST(!fs::exists(box.home() / "store.db"), "--dry-run recorded a run");

    // --step b: b and a (which it needs); not c, not d (which needs b).
    Outcome r = box.run({"run", "p.amlflow", "--step", "b"}, 60);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    BOOST_TEST(fs::exists(marks / "a-0"));
    BOOST_TEST(fs::exists(marks / "b-0"));
    BOOST_TEST(fs::exists(marks / "b-1"));
    BOOST_TEST(!fs::exists(marks / "c-0"));
    BOOST_TEST(!fs::exists(marks / "d-0"));
    auto store = box.store();
    std::string run = box.only_run();
    auto steps = store->steps_of(run);
    BOOST_REQUIRE(steps);
    for (const StepRecord& step : *steps) {
        BOOST_TEST_CONTEXT("step " << step.name) {
            bool wanted = step.name == "a" || step.name == "b";
            BOOST_TEST(step.attempts == (wanted ? 1 : 0));
            if (wanted) BOOST_TEST(step.state == StepState::Succeeded);
        }
    }

    // --step d: what d waits for through `after` (b) and what b needs (a); not c.
    // (--force: a and b would otherwise come from the cache, and start nothing.)
    for (const char* mark : {"a-0", "b-0", "b-1"}) fs::remove(marks / mark);
    Outcome chain = box.run({"run", "p.amlflow", "--step", "d", "--force"}, 60);
    BOOST_REQUIRE_MESSAGE(chain.finished && chain.code == 0, chain);
    BOOST_TEST(fs::exists(marks / "a-0"));
    BOOST_TEST(fs::exists(marks / "b-0"));
    BOOST_TEST(fs::exists(marks / "d-0"));
    BOOST_TEST(!fs::exists(marks / "c-0"));

    // An unknown step is a wrong command line, and runs nothing.
    Outcome bad = box.run({"run", "p.amlflow", "--step", "nope"}, 30);
    BOOST_REQUIRE(bad.finished);
    BOOST_TEST(bad.code == 64, bad);
    BOOST_TEST(!fs::exists(marks / "c-0"));

    // A file with an error: exit 1, the error on stderr, nothing run.
    box.write("broken.amlflow", "experiment e {\n  job c { " + common + ", restarts = \"2\" }\n}\n");
    Outcome broken = box.run({"run", "broken.amlflow"}, 30);
    BOOST_REQUIRE(broken.finished);
    BOOST_TEST(broken.code == 1, broken);
    BOOST_TEST(contains(broken.err, "restarts"), broken);
    BOOST_TEST(!fs::exists(marks / "c-0"));
}

// 10a. The real DDP example: 2 gloo ranks on CPU, the loss falls.
BOOST_AUTO_TEST_CASE(pytorch_ddp_example) {
    if (!have_torch()) {
        BOOST_TEST_MESSAGE("skipped: /usr/bin/python3 cannot import torch");
        return;
    }
    Sandbox box;
    fs::path example = source_dir() / "examples" / "ddp";
    BOOST_REQUIRE_MESSAGE(fs::exists(example / "ddp.amlflow"), example << " not found");
    for (const auto& entry : fs::directory_iterator(example)) {
        if (entry.is_regular_file()) fs::copy_file(entry.path(), box.root() / entry.path().filename());
    }
    Outcome r = box.run({"run", "ddp.amlflow"}, 240);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 0, r);
    BOOST_TEST(contains(r.out, "[train 0] OK: loss fell"), r);
    BOOST_TEST(contains(r.out, "[train 1] [rank 1] local_rank=1 world_size=2"), r);
    auto store = box.store();
    std::string run = box.only_run();
    auto train = step_record(*store, run, "train");
    BOOST_REQUIRE(train);
    BOOST_TEST(train->state == StepState::Succeeded);
    BOOST_TEST(fs::exists(train->outputs / "model.pt"));
}

// 10b. A script written for torchrun runs unmodified: env:// rendezvous, all_reduce, and a
// restart onto a fresh MASTER_PORT.
BOOST_AUTO_TEST_CASE(torchrun_script_runs_unmodified) {
    if (!have_torch()) {
        BOOST_TEST_MESSAGE("skipped: /usr/bin/python3 cannot import torch");
        return;
    }
    Sandbox box;
    box.write("src/allreduce.py", R"PY(import os, sys
import torch
import torch.distributed as dist

local_rank = int(os.environ["LOCAL_RANK"])
rank = int(os.environ["RANK"])
world_size = int(os.environ["WORLD_SIZE"])
restart = int(os.environ["TORCHELASTIC_RESTART_COUNT"])
dist.init_process_group("gloo", init_method="env://")
assert dist.get_rank() == rank and dist.get_world_size() == world_size
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
expected = world_size * (world_size + 1) / 2
print(f"rank {rank} local_rank {local_rank} restart {restart} sum {t.item()}", flush=True)
with open(os.path.join(os.environ["AMLFLOW_OUTPUTS"], f"sum-{rank}-{restart}.txt"), "w") as f:
    f.write(str(t.item()))
if t.item() != expected:
    sys.exit(5)
if restart == 0 and rank == 1:
    print("rank 1 fails after the all_reduce on purpose", flush=True)
    sys.exit(1)
dist.barrier()
dist.destroy_process_group()
)PY");
    box.write("p.amlflow", R"(
environment torch { python = "/usr/bin/python3" }
experiment e {
  job reduce {
    source       = "src"
    script       = "allreduce.py"
    environment  = torch
    distribution = pytorch { processes_per_node = 2 }
    restarts     = 1
    backoff      = 100ms
    timeout      = 3m
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 240);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto step = step_record(*store, run, "reduce");
    BOOST_REQUIRE(step);
    BOOST_TEST(step->state == StepState::Succeeded);
    BOOST_TEST(step->attempts == 2);
    for (int rank = 0; rank < 2; ++rank) {
        for (int restart = 0; restart < 2; ++restart) {
            fs::path sum = step->outputs / ("sum-" + std::to_string(rank) + "-" + std::to_string(restart) + ".txt");
            BOOST_TEST(read_file(sum) == "3.0", sum);
        }
    }
    BOOST_TEST(contains(r.out, "[reduce 1] rank 1 local_rank 1 restart 1 sum 3.0"), r);
}

// 11. Paths in `args` and `inputs` name files relative to the main file's folder (the
// plan's one convention, docs/language.md 3 and 7.7); the rank runs in the snapshot of
// its source folder, so it must be handed paths that still lead to those files.
BOOST_AUTO_TEST_CASE(relative_paths_in_args_and_inputs_reach_the_rank) {
    Sandbox box;
    box.write("data/x.txt", "beside the pipeline file\n");
    box.write("src/read.sh", R"SH(: > "$AMLFLOW_OUTPUTS/seen.txt"
for what in "input:$AMLFLOW_INPUT_CFG" "arg1:$1" "arg2:$2"; do
  name=${what%%:*}; path=${what#*:}
  if [ -f "$path" ]; then
    printf '%s ok %s\n' "$name" "$(cat "$path")" >> "$AMLFLOW_OUTPUTS/seen.txt"
  else
    printf '%s missing %s\n' "$name" "$path" >> "$AMLFLOW_OUTPUTS/seen.txt"
  fi
done
)SH");
    box.write("p.amlflow", R"(
experiment e {
  job r {
    source  = "src"
    command = ["/bin/sh", "read.sh"]
    args    = [file("data/x.txt"), "data" / "x.txt"]
    inputs  = { cfg = "data/x.txt" }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 30);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    auto store = box.store();
    auto step = step_record(*store, box.only_run(), "r");
    BOOST_REQUIRE(step);
    std::string seen = read_file(step->outputs / "seen.txt");
    BOOST_TEST(contains(seen, "input ok beside the pipeline file"), seen);
    BOOST_TEST(contains(seen, "arg1 ok beside the pipeline file"), seen);
    BOOST_TEST(contains(seen, "arg2 ok beside the pipeline file"), seen);
}

// 12. The summary's time column is each step's own time, as the "succeeded in" lines say,
// not the time from the step's start to the end of the whole run.
BOOST_AUTO_TEST_CASE(summary_times_are_per_step) {
    Sandbox box;
    box.write("src/quick.sh", "echo quick\n");
    box.write("src/slow.sh", "sleep 2\necho slow\n");
    box.write("p.amlflow", R"(
experiment e {
  job quick { source = "src", command = ["/bin/sh", "quick.sh"] }
  job slow  { source = "src", command = ["/bin/sh", "slow.sh"] }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 30);
    BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    std::string quick_row, slow_row;
    bool table = false;
    for (const std::string& line : lines_of(r.err)) {
        if (line.rfind("step ", 0) == 0 && contains(line, "attempts")) table = true;
        if (!table) continue;
        if (line.rfind("quick ", 0) == 0) quick_row = line;
        if (line.rfind("slow ", 0) == 0) slow_row = line;
    }
    BOOST_REQUIRE_MESSAGE(!quick_row.empty() && !slow_row.empty(), r.err);
    // The last column, as format_duration_ms writes it: "30ms", "2.0s", "1m05s".
    auto ms_of = [](const std::string& row) -> double {
        std::string text = row.substr(row.find_last_of(' ') + 1);
        try {
            if (text.size() > 2 && text.substr(text.size() - 2) == "ms") return std::stod(text);
            size_t m = text.find('m');
            if (m != std::string::npos) return std::stod(text.substr(0, m)) * 60000 + std::stod(text.substr(m + 1)) * 1000;
            return std::stod(text) * 1000;
        } catch (...) {
            return -1;
        }
    };
    double quick_ms = ms_of(quick_row), slow_ms = ms_of(slow_row);
    BOOST_TEST(slow_ms >= 1500, "summary row: '" << slow_row << "'");
    BOOST_TEST(quick_ms >= 0, "summary row: '" << quick_row << "'");
    BOOST_TEST(quick_ms < slow_ms - 1000, "the quick step's time is not its own: '" << quick_row << "'\n" << r.err);
}

// 13. When a step ends, nothing it started is left running: a rank's background child
// is in the rank's process group and goes with it, whether it holds the rank's output
// pipes (then amlflow waits `linger` for it, then SIGKILLs the group) or not (Ctrl-C and
// failures already take the whole group; a rank that exits 0 should too).
BOOST_AUTO_TEST_CASE(no_process_of_a_finished_step_is_left_running) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/attached.sh", R"(sleep 300 &
echo $! > "$PIDDIR/attached.pid"
echo "the rank exits; its child holds the rank's stdout"
)");
    box.write("src/detached.sh", R"(sleep 300 >/dev/null 2>&1 &
echo $! > "$PIDDIR/detached.pid"
echo "the rank exits; its child writes elsewhere"
)");
    std::string common = "source = \"src\", variables = { PIDDIR = " + quoted(pids) + " }";
    box.write("p.amlflow", "experiment e {\n"
                           "  job attached { " + common + ", command = [\"/bin/sh\", \"attached.sh\"] }\n"
                           "  job detached { " + common + ", command = [\"/bin/sh\", \"detached.sh\"] }\n"
                           "}\n");
    Outcome r = box.run({"run", "p.amlflow"}, 30);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 0, r);
    long attached = read_pid(pids / "attached.pid");
    long detached = read_pid(pids / "detached.pid");
    BOOST_REQUIRE(attached > 0 && detached > 0);
    wait_until([&] { return !process_alive(detached) && !process_alive(attached); }, 2);
    BOOST_TEST(!process_alive(attached), "the child holding the rank's stdout (pid " << attached << ") outlived the run");
    BOOST_TEST(!process_alive(detached), "the rank's child writing elsewhere (pid " << detached
                                                                                 << ") outlived the run");
    for (long pid : {detached, attached}) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
}

// 14. Without AMLFLOW_HOME the store is .amlflow beside the file, wherever amlflow is run
// from, and the snapshot of a source folder holding it leaves it out.
BOOST_AUTO_TEST_CASE(store_beside_the_file_without_amlflow_home) {
    Sandbox box;
    box.set_home = false;
    box.cwd = box.path("elsewhere");
    fs::create_directories(box.cwd);
    box.write("look.sh", "ls -a > \"$AMLFLOW_OUTPUTS/listing.txt\"\n");
    box.write("p.amlflow", R"(
experiment e {
  job look { command = ["/bin/sh", "look.sh"] }
}
)");
    Outcome first = box.run({"run", (box.root() / "p.amlflow").string()}, 30);
    BOOST_REQUIRE_MESSAGE(first.finished && first.code == 0, first);
    BOOST_TEST(fs::exists(box.root() / ".amlflow" / "store.db"));
    BOOST_TEST(!fs::exists(box.cwd / ".amlflow"));
    BOOST_TEST(!fs::exists(box.home()));
    // A second run: the first run's store and artifacts are now inside the source folder.
    Outcome second = box.run({"run", (box.root() / "p.amlflow").string()}, 30);
    BOOST_REQUIRE_MESSAGE(second.finished && second.code == 0, second);
    auto store = box.store();
    auto runs = store->list_runs(0);
    BOOST_REQUIRE(runs);
    BOOST_REQUIRE_EQUAL(runs->size(), 2u);
    auto look = step_record(*store, runs->front().id, "look");
    BOOST_REQUIRE(look);
    std::vector<std::string> listing = lines_of(read_file(look->outputs / "listing.txt"));
    BOOST_TEST((std::find(listing.begin(), listing.end(), "look.sh") != listing.end()));
    BOOST_TEST((std::find(listing.begin(), listing.end(), ".amlflow") == listing.end()), read_file(look->outputs / "listing.txt"));
    // `amlflow runs list --file` finds that store.
    Outcome list = box.run({"runs", "list", "--file", (box.root() / "p.amlflow").string()}, 30);
    BOOST_REQUIRE_MESSAGE(list.finished && list.code == 0, list);
    BOOST_TEST(contains(list.out, runs->front().id), list);
    BOOST_TEST(contains(list.out, runs->back().id), list);
}

// 15. AMLFLOW_HOME inside a job's source folder: the snapshot leaves the store out, as it
// leaves out `.amlflow`, or every run would copy the store, earlier snapshots included.
BOOST_AUTO_TEST_CASE(store_inside_the_source_folder_is_not_snapshotted) {
    Sandbox box;  // AMLFLOW_HOME is <folder>/home, and the job's source is <folder>
    box.write("look.sh", "ls -a > \"$AMLFLOW_OUTPUTS/listing.txt\"\n");
    box.write("p.amlflow", R"(
experiment e {
  job look { command = ["/bin/sh", "look.sh"] }
}
)");
    for (int i = 0; i < 2; ++i) {
        Outcome r = box.run({"run", "p.amlflow"}, 30);
        BOOST_REQUIRE_MESSAGE(r.finished && r.code == 0, r);
    }
    auto store = box.store();
    auto runs = store->list_runs(0);
    BOOST_REQUIRE(runs && runs->size() == 2);
    auto look = step_record(*store, runs->front().id, "look");
    BOOST_REQUIRE(look);
    std::string listing = read_file(look->outputs / "listing.txt");
    std::vector<std::string> names = lines_of(listing);
    BOOST_TEST((std::find(names.begin(), names.end(), "look.sh") != names.end()), listing);
    BOOST_TEST((std::find(names.begin(), names.end(), "home") == names.end()), "the snapshot holds the store:\n" << listing);
}

// Requirements are verified before any rank starts: a missing interpreter or package is
// named in one message (here the package cannot be installed: no package index is
// reachable from this machine), and no rank runs.
BOOST_AUTO_TEST_CASE(missing_requirements_are_named_before_any_rank_starts) {
    Sandbox box;
    box.write("t.sh", "echo ran > \"$AMLFLOW_OUTPUTS/ran.txt\"\n");
    box.write("p.amlflow", R"(
environment needs { python = "/usr/bin/python3", pip = ["amlflow-surely-missing-package==1.0"] }
environment nowhere { python = "python3.99-amlflow-missing" }
experiment e {
  job a { command = ["/bin/sh", "t.sh"], environment = needs }
  job b { command = ["/bin/sh", "t.sh"], environment = nowhere }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 120);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 2, r);
    BOOST_TEST(contains(r.err, "the environment lacks amlflow-surely-missing-package"), r);
    BOOST_TEST(contains(r.err, "the interpreter 'python3.99-amlflow-missing' cannot be run"), r);
    auto store = box.store();
    auto runs = store->list_runs(0);
    BOOST_REQUIRE(runs && runs->size() == 1);
    for (const char* name : {"a", "b"}) {
        auto step = step_record(*store, runs->front().id, name);
        BOOST_REQUIRE(step);
        BOOST_TEST(step->state == StepState::Failed);
        BOOST_TEST(step->attempts == 0);
        BOOST_TEST(!fs::exists(step->outputs / "ran.txt"));
    }
}

// The verified_ms of the store's one remembered environment, -1 when there is none.
int64_t verified_ms(const Sandbox& box) {
    sqlite3* db = nullptr;
    int64_t found = -1;
    if (sqlite3_open_v2((box.home() / "store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* query = nullptr;
        sqlite3_prepare_v2(db, "SELECT verified_ms FROM verified_environment", -1, &query, nullptr);
        if (query && sqlite3_step(query) == SQLITE_ROW) found = sqlite3_column_int64(query, 0);
        sqlite3_finalize(query);
    }
    sqlite3_close(db);
    return found;
}

// Verified once, not per job: a check that found everything installed is remembered in
// the run store, and later runs trust it while nothing it rests on changed. The package
// lies on the environment's own PYTHONPATH, beside a sitecustomize.py that counts every
// start of the interpreter (the job runs /bin/sh: only the check starts it). What the
// check rests on is backdated by an hour, out of the racy margin of a just-changed folder
// (environment_stamp.h).
BOOST_AUTO_TEST_CASE(an_environment_is_verified_once_and_a_removed_package_is_still_caught) {
    Sandbox box;
    fs::path counter = box.path("starts.txt");
    box.write("pkgs/sitecustomize.py", "with open(" + json(counter.string()).dump() + ", 'a') as f:\n    f.write('start\\n')\n");
    fs::path metadata = box.write("pkgs/amlflowe2efake-1.0.dist-info/METADATA",
                                  "Metadata-Version: 2.1\nName: amlflowe2efake\nVersion: 1.0\n");
    for (const fs::path& path : {box.path("pkgs/sitecustomize.py"), metadata.parent_path(), box.path("pkgs")}) {
        fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
    }
    box.write("t.sh", "echo ran > \"$AMLFLOW_OUTPUTS/ran.txt\"\n");
    box.write("p.amlflow", R"(
environment fake {
  python    = "/usr/bin/python3"
  pip       = ["amlflowe2efake>=1.0"]
  variables = { PYTHONPATH = ")" + box.path("pkgs").string() + R"(" }
}
experiment e {
  job a { command = ["/bin/sh", "t.sh"], environment = fake }
}
)");
    auto starts = [&] { return lines_of(read_file(counter)).size(); };
    Outcome first = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(first.finished && first.code == 0, first);
    BOOST_TEST(starts() == 1u);
    int64_t verified = verified_ms(box);
    BOOST_TEST(verified > 0, "the check was not remembered");
    Outcome second = box.run({"run", "--force", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(second.finished && second.code == 0, second);
    BOOST_TEST(starts() == 1u, "an unchanged environment was checked again");
    BOOST_TEST(verified_ms(box) == verified);
    Outcome forced = box.run({"run", "--force", "--recheck-env", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(forced.finished && forced.code == 0, forced);
    BOOST_TEST(starts() == 2u, "--recheck-env did not check");
    BOOST_TEST(verified_ms(box) > verified);

    // Uninstalled: the check runs again and fails the step before any rank starts (the
    // package cannot be installed either: no package index is reachable from here).
    fs::remove_all(metadata.parent_path());
    Outcome removed = box.run({"run", "--force", "p.amlflow"}, 120);
    BOOST_REQUIRE_MESSAGE(removed.finished, removed);
    BOOST_TEST(removed.code == 2, removed);
    BOOST_TEST(contains(removed.err, "environment 'fake': the environment lacks amlflowe2efake"), removed);
    BOOST_TEST(starts() >= 3u);
    auto store = box.store();
    auto runs = store->list_runs(0);
    BOOST_REQUIRE(runs && runs->size() == 4);
    auto step = step_record(*store, runs->front().id, "a");
    BOOST_REQUIRE(step);
    BOOST_TEST(step->state == StepState::Failed);
    BOOST_TEST(step->attempts == 0);
    BOOST_TEST(!fs::exists(step->outputs / "ran.txt"));
}

BOOST_AUTO_TEST_SUITE_END()
