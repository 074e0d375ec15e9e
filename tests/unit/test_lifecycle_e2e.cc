// The end of a run, end to end with real processes (docs/runtime.md, "Nothing outlives a
// run"): `kill -9` of amlflow leaves no process of the run alive (forked children, setsid
// daemons included), the next command records the run interrupted and `logs --follow` on
// it ends, `amlflow cancel` from another process stops a live run as Ctrl-C does, and
// `runs rm` / `gc` free runs without breaking what a kept run's cache needs.
//
// AMLFLOW_BIN names build/amlflow (amlflow-launch and amlflow-reaper beside it). Every wait
// is bounded; no test asserts a time other than the 2 s the issue allows the processes
// of a killed run.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include "tests/unit/e2e_harness.h"

namespace {

// Each rank forks a child that only sleeps (a DataLoader worker: no exec, the same
// environment), and a daemon: a child that calls setsid, forks again and exits, so the
// grandchild is in a session of its own and reparented away from the rank. Each pid is
// written to $PIDDIR; "ready" is printed when all are.
const char* kSpawner = R"PY(import os, sys, time
piddir, rank = os.environ["PIDDIR"], os.environ.get("RANK", "0")
def write(name, pid):
    path = os.path.join(piddir, "%s-%s.pid" % (name, rank))
    with open(path + ".tmp", "w") as f:
        f.write(str(pid))
    os.rename(path + ".tmp", path)
worker = os.fork()
if worker == 0:
    time.sleep(300)
    os._exit(0)
write("worker", worker)
first = os.fork()
if first == 0:
    os.setsid()
    daemon = os.fork()
    if daemon == 0:
        time.sleep(300)
        os._exit(0)
    write("daemon", daemon)
    os._exit(0)
os.waitpid(first, 0)
write("rank", os.getpid())
if os.environ.get("AMLFLOW_ATTEMPT") != "0" and os.environ.get("QUICK_AFTER_FIRST") == "1":
    print("done quickly", flush=True)
    sys.exit(0)
print("ready", flush=True)
time.sleep(300)
)PY";

std::string spawner_pipeline(const fs::path& pids, int ranks, const std::string& extra = "") {
    return "environment py { python = \"/usr/bin/python3\" }\nexperiment e {\n  job work {\n"
           "    source = \"src\"\n    script = \"spawn.py\"\n    environment = py\n"
           "    distribution = pytorch { processes_per_node = " + std::to_string(ranks) + " }\n"
           "    variables = { PIDDIR = " + quoted(pids) + extra + " }\n  }\n}\n";
}

// The pids of every process the ranks wrote, once all of them have.
std::vector<long> wait_for_pids(const fs::path& pids, int ranks) {
    std::vector<fs::path> files;
    for (int rank = 0; rank < ranks; ++rank) {
        for (const char* kind : {"rank", "worker", "daemon"}) files.push_back(pids / (std::string(kind) + "-" + std::to_string(rank) + ".pid"));
    }
    bool ready = wait_until([&] {
        for (const fs::path& f : files) {
            if (read_pid(f) <= 0) return false;
        }
        return true;
    }, 60);
    BOOST_REQUIRE_MESSAGE(ready, "the ranks did not write their pids");
    std::vector<long> found;
    for (const fs::path& f : files) found.push_back(read_pid(f));
    return found;
}

void kill_leftovers(const std::vector<long>& pids) {
    for (long pid : pids) {
        if (process_alive(pid)) kill(static_cast<pid_t>(pid), SIGKILL);
    }
}

// Starts the spawner pipeline, waits for every pid, then SIGKILLs amlflow.
std::vector<long> start_and_kill(Sandbox& box, int ranks, const std::string& extra = "") {
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/spawn.py", kSpawner);
    box.write("p.amlflow", spawner_pipeline(pids, ranks, extra));
    auto process = box.start({"run", "p.amlflow"});
    std::vector<long> all = wait_for_pids(pids, ranks);
    for (long pid : all) BOOST_TEST(process_alive(pid));
    // Killed once every rank's "ready" has been relayed (the log is written before the
    // display), so what the run left in its logs is known.
    fs::path out = box.root() / "amlflow-1.out";
    BOOST_TEST(wait_until([&] {
        std::string text = read_file(out);
        int seen = 0;
        for (size_t at = text.find("ready"); at != std::string::npos; at = text.find("ready", at + 1)) ++seen;
        return seen >= ranks;
    }, 30));
    process->signal(SIGKILL);
    Outcome r = process->wait(10);
    BOOST_TEST((r.signaled && r.signal == SIGKILL));
    return all;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lifecycle_e2e)

// 1. kill -9 of amlflow: the ranks, their forked workers and their setsid daemons all end
// within 2 s (zombies count as dead: in a container nobody may reap orphans).
BOOST_AUTO_TEST_CASE(sigkill_of_amlflow_leaves_no_process_of_the_run) {
    Sandbox box;
    std::vector<long> pids = start_and_kill(box, 2);
    bool gone = wait_until([&] {
        for (long pid : pids) {
            if (process_alive(pid)) return false;
        }
        return true;
    }, 2.0);
    std::string alive;
    for (long pid : pids) {
        if (process_alive(pid)) alive += " " + std::to_string(pid);
    }
    BOOST_TEST(gone, "processes of the run outlived a SIGKILLed amlflow by more than 2 s:" << alive);
    kill_leftovers(pids);
}

// 2. The run of a killed amlflow is recorded interrupted by the next command, runs show
// says how to continue it, `logs --follow` on it ends, and --resume continues it.
BOOST_AUTO_TEST_CASE(killed_run_is_interrupted_and_follow_ends) {
    Sandbox box;
    std::vector<long> pids = start_and_kill(box, 1, ", QUICK_AFTER_FIRST = \"1\"");
    std::string id = box.only_run();
    BOOST_TEST(box.store()->find_run(id)->state == RunState::Running);  // nobody looked yet

    Outcome list = box.run({"runs", "list"}, 30);
    BOOST_TEST(list.code == 0, list);
    BOOST_TEST(contains(list.out, "interrupted"), list);
    auto run = box.store()->find_run(id);
    BOOST_TEST(run->state == RunState::Interrupted);
    auto step = step_record(*box.store(), id, "work");
    BOOST_TEST(step->state == StepState::Canceled);
    auto tries = attempts(*box.store(), id, "work");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    BOOST_TEST(tries[0].state == AttemptState::Canceled);
    BOOST_TEST(failure_of(tries[0]).value("reason", "") == "interrupted");

    Outcome show = box.run({"runs", "show", id}, 30);
    BOOST_TEST(contains(show.out, "interrupted"), show);
    BOOST_TEST(contains(show.out, "--resume " + id), show);
    BOOST_TEST(contains(show.out, "ended with amlflow"), show);

    Outcome follow = box.run({"logs", "--follow", id}, 30);
    BOOST_TEST(follow.finished, follow);
    BOOST_TEST(follow.code == 0, follow);
    BOOST_TEST(contains(follow.out, "ready"), follow);

    Outcome resumed = box.run({"run", "--resume", id}, 60);
    BOOST_TEST(resumed.code == 0, resumed);
    BOOST_TEST(contains(resumed.out, "done quickly"), resumed);
    BOOST_TEST(box.store()->find_run(id)->state == RunState::Succeeded);
    kill_leftovers(pids);
}

// 3. A `logs --follow` started while the run is live ends once its amlflow is killed.
BOOST_AUTO_TEST_CASE(follow_of_a_live_run_ends_when_its_amlflow_is_killed) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/spawn.py", kSpawner);
    box.write("p.amlflow", spawner_pipeline(pids, 1));
    auto process = box.start({"run", "p.amlflow"});
    std::vector<long> all = wait_for_pids(pids, 1);
    auto follow = box.start({"logs", "--follow", box.only_run()});
    BOOST_TEST(wait_until([&] { return contains(read_file(box.root() / "amlflow-2.out"), "ready"); }, 30));
    process->signal(SIGKILL);
    process->wait(10);
    Outcome r = follow->wait(30);
    BOOST_TEST(r.finished, r);
    BOOST_TEST(r.code == 0, r);
    BOOST_TEST(box.store()->find_run(box.only_run())->state == RunState::Interrupted);
    kill_leftovers(all);
}

// 4. `amlflow cancel` from another process: the running amlflow stops every rank, records
// the run canceled and exits 130; a second cancel, or one of a dead run, says it is not
// running; `runs rm` refuses a live run.
BOOST_AUTO_TEST_CASE(cancel_from_another_process) {
    Sandbox box;
    fs::path pids = box.path("pids");
    fs::create_directories(pids);
    box.write("src/spawn.py", kSpawner);
    box.write("p.amlflow", spawner_pipeline(pids, 2));
    auto process = box.start({"run", "p.amlflow"});
    std::vector<long> all = wait_for_pids(pids, 2);
    std::string id = box.only_run();

    Outcome rm = box.run({"runs", "rm", id}, 30);
    BOOST_TEST(rm.code == 1, rm);
    BOOST_TEST(contains(rm.err, "is running"), rm);
    BOOST_TEST(fs::exists(box.home() / "runs" / id));

    Outcome cancel = box.run({"cancel", id.substr(0, 17)}, 60);
    BOOST_TEST(cancel.code == 0, cancel);
    BOOST_TEST(contains(cancel.out, "canceled"), cancel);
    Outcome run = process->wait(30);
    BOOST_TEST(run.code == 130, run);
    BOOST_TEST(box.store()->find_run(id)->state == RunState::Canceled);
    // The ranks and what they started in their process groups end with the run; the
    // setsid daemons, outside those groups, through the reaper once amlflow has exited.
    bool gone = wait_until([&] {
        for (long pid : all) {
            if (process_alive(pid)) return false;
        }
        return true;
    }, 2.0);
    BOOST_TEST(gone, "processes of a canceled run outlived it");

    Outcome again = box.run({"cancel", id}, 30);
    BOOST_TEST(again.code == 1, again);
    BOOST_TEST(contains(again.err, "is not running (state: canceled)"), again);
    kill_leftovers(all);
}

BOOST_AUTO_TEST_CASE(cancel_of_a_killed_run_says_it_is_not_running) {
    Sandbox box;
    std::vector<long> pids = start_and_kill(box, 1);
    Outcome cancel = box.run({"cancel", box.only_run()}, 30);
    BOOST_TEST(cancel.code == 1, cancel);
    BOOST_TEST(contains(cancel.err, "is not running (state: interrupted)"), cancel);
    kill_leftovers(pids);
}

// A pipeline of two jobs: `make` writes outputs/model.txt, `use` runs `use_command` after it.
void write_make_and_use(Sandbox& box, const std::string& use_command) {
    box.write("src/readme.txt", "x\n");
    box.write("p.amlflow", "experiment e {\n  job make {\n    source = \"src\"\n"
                           "    command = \"echo made > outputs/model.txt\"\n  }\n"
                           "  job use {\n    source = \"src\"\n    command = " + use_command + "\n  }\n}\n");
}

// A step amlflow said succeeded is in the store however soon amlflow is SIGKILLed after
// saying it: the next run takes it from the cache. A run that ended with its last step
// succeeding says so too (the two records are committed together, before the line).
BOOST_AUTO_TEST_CASE(a_step_reported_succeeded_survives_a_sigkill_right_after) {
    Sandbox box;
    write_make_and_use(box, R"(["/bin/sh", "-c", "sleep 60", make.outputs])");
    auto process = box.start({"run", "p.amlflow"});
    fs::path err = box.path("amlflow-1.err");
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return contains(read_file(err), "step 'make' succeeded"); }, 30),
                          "'make' did not succeed: " << read_file(err));
    process->signal(SIGKILL);
    Outcome killed = process->wait(10);
    BOOST_TEST((killed.signaled && killed.signal == SIGKILL), killed);
    std::string first = box.only_run();
    BOOST_TEST(step_record(*box.store(), first, "make")->state == StepState::Succeeded);

    Outcome again = box.run({"run", "p.amlflow", "--step", "make"});
    BOOST_TEST(again.code == 0, again);
    std::string second = box.store()->list_runs(1)->front().id;
    BOOST_TEST(second != first);
    BOOST_TEST(step_record(*box.store(), second, "make")->state == StepState::Cached, again);
    // The last step: the run's end is recorded before the step's line is shown.
    auto last = box.start({"run", "--force", "p.amlflow", "--step", "make"});
    fs::path last_err = box.path("amlflow-3.err");
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return contains(read_file(last_err), "step 'make' succeeded"); }, 30),
                          "'make' did not succeed: " << read_file(last_err));
    last->signal(SIGKILL);
    last->wait(10);
    auto third = box.store()->list_runs(1)->front();
    BOOST_TEST(third.id != second);
    BOOST_TEST(third.state == RunState::Succeeded);
    BOOST_TEST(third.exit_code == 0);
    BOOST_TEST(step_record(*box.store(), third.id, "make")->state == StepState::Succeeded);
}

// A local run does not load libcurl: only talking to Azure ML needs it, and the thirty
// libraries it brings would cost each run ~5.6 MB of resident memory (curl_library.cc).
// The rank reads its parent's (amlflow's) mappings; SQLite is there as the control.
BOOST_AUTO_TEST_CASE(a_local_run_does_not_load_libcurl) {
    Sandbox box;
    box.write("src/readme.txt", "x\n");
    box.write("p.amlflow", R"X(experiment e {
  job look {
    source = "src"
    command = ["/bin/sh", "-c", "echo maps: sqlite $(grep -c libsqlite3 /proc/$PPID/maps), curl $(grep -c libcurl /proc/$PPID/maps)"]
  }
}
)X");
    Outcome r = box.run({"run", "p.amlflow"});
    BOOST_TEST(r.code == 0, r);
    std::string shown = r.out + r.err;
    BOOST_TEST(contains(shown, "maps: sqlite "), r);
    BOOST_TEST(!contains(shown, "maps: sqlite 0,"), r);
    BOOST_TEST(contains(shown, ", curl 0"), r);
}

// 5. rm and gc free old runs but keep what a later run's cache and --resume read: the
// outputs of the run that first made a result, while a kept run's cached step points at
// them; the cache key goes to that kept step; what stops being cached is said.
BOOST_AUTO_TEST_CASE(rm_and_gc_keep_what_a_cached_run_needs) {
    Sandbox box;
    write_make_and_use(box, R"(["/bin/cat", make.outputs / "model.txt"])");
    BOOST_REQUIRE_EQUAL(box.run({"run", "p.amlflow"}).code, 0);
    std::string first = box.only_run();
    Outcome second_run = box.run({"run", "p.amlflow"});
    BOOST_REQUIRE_EQUAL(second_run.code, 0);
    std::string second = box.store()->list_runs(1)->front().id;
    BOOST_TEST(step_record(*box.store(), second, "make")->state == StepState::Cached);
    fs::path made = box.home() / "runs" / first / "make" / "outputs" / "model.txt";
    fs::path attempt_logs = box.home() / "runs" / first / "make" / "attempt-1";
    BOOST_REQUIRE(fs::exists(made));
    BOOST_REQUIRE(fs::exists(attempt_logs));

    Outcome dry = box.run({"runs", "rm", "--dry-run", first}, 30);
    BOOST_TEST(dry.code == 0, dry);
    BOOST_TEST(contains(dry.out, "would remove run " + first), dry);
    BOOST_TEST(box.store()->find_run(first).has_value());
    BOOST_TEST(fs::exists(attempt_logs));

    Outcome rm = box.run({"runs", "rm", first}, 30);
    BOOST_TEST(rm.code == 0, rm);
    BOOST_TEST(contains(rm.out, "removed run " + first), rm);
    BOOST_TEST(contains(rm.out, "make/outputs: step 'make' of run " + second + " uses it"), rm);
    BOOST_TEST(contains(rm.out, "cache: step 'make' stays cached, through run " + second), rm);
    BOOST_TEST(!box.store()->find_run(first).has_value());
    BOOST_TEST(fs::exists(made));            // the second run's cached step reads it
    BOOST_TEST(!fs::exists(attempt_logs));   // nobody reads the first run's attempt logs

    // A third run still reuses both steps, from the second run's records.
    Outcome third = box.run({"run", "p.amlflow"});
    BOOST_TEST(third.code == 0, third);
    std::string third_id = box.store()->list_runs(1)->front().id;
    BOOST_TEST(step_record(*box.store(), third_id, "make")->state == StepState::Cached);
    BOOST_TEST(step_record(*box.store(), third_id, "use")->state == StepState::Cached);

    // gc of all but the newest: the folder stays, since the newest run points at it.
    Outcome gc = box.run({"gc", "--keep", "1"}, 30);
    BOOST_TEST(gc.code == 0, gc);
    BOOST_TEST(contains(gc.out, "removed run " + second), gc);
    BOOST_TEST(fs::exists(made));
    BOOST_TEST(box.store()->list_runs(0)->size() == 1u);
    Outcome fourth = box.run({"run", "p.amlflow"});
    BOOST_TEST(fourth.code == 0, fourth);
    BOOST_TEST(step_record(*box.store(), box.store()->list_runs(1)->front().id, "make")->state == StepState::Cached);

    // gc of everything: nothing is left to point at it, so it goes, and gc says which
    // steps are no longer cached.
    Outcome all = box.run({"gc", "--keep", "0"}, 30);
    BOOST_TEST(all.code == 0, all);
    BOOST_TEST(contains(all.out, "cache: step 'make' of run"), all);
    BOOST_TEST(contains(all.out, "is no longer cached"), all);
    BOOST_TEST(box.store()->list_runs(0)->empty());
    BOOST_TEST(!fs::exists(made));
    Outcome fresh = box.run({"run", "p.amlflow"});
    BOOST_TEST(fresh.code == 0, fresh);
    BOOST_TEST(step_record(*box.store(), box.only_run(), "make")->state == StepState::Succeeded);
}

BOOST_AUTO_TEST_CASE(gc_needs_a_rule_and_reads_ages) {
    Sandbox box;
    box.write("p.amlflow", "experiment e {\n  job j { command = \"true\" }\n}\n");
    BOOST_REQUIRE_EQUAL(box.run({"run", "p.amlflow"}).code, 0);
    Outcome none = box.run({"gc"}, 30);
    BOOST_TEST(none.code == 64, none);
    BOOST_TEST(contains(none.err, "--keep N"), none);
    Outcome bad = box.run({"gc", "--older-than", "7x"}, 30);
    BOOST_TEST(bad.code == 64, bad);
    Outcome young = box.run({"gc", "--older-than", "7d"}, 30);
    BOOST_TEST(young.code == 0, young);
    BOOST_TEST(contains(young.out, "nothing to remove"), young);
    BOOST_TEST(box.store()->list_runs(0)->size() == 1u);
}

// 7. `run --detach` on this machine: the foreground returns with the run id while the job
// waits (for a gate file the test makes), driven by an amlflow in a session of its own with
// stdin /dev/null; `logs --follow` from another process sees every line and ends with the
// run; a wrong file fails in the foreground (exit 1) with nothing started.
BOOST_AUTO_TEST_CASE(detach_runs_a_local_job_in_the_background) {
    Sandbox box;
    fs::path gate = box.path("gate");
    box.write("src/gated.py", "import os, time\nprint('waiting', flush=True)\n"
                              "deadline = time.time() + 120\n"
                              "while not os.path.exists(os.environ['GATE']) and time.time() < deadline:\n"
                              "    time.sleep(0.05)\nfor i in range(3):\n    print('line', i, flush=True)\n");
    box.write("p.amlflow", "environment py { python = \"/usr/bin/python3\" }\nexperiment e {\n  job gated {\n"
                           "    source = \"src\"\n    script = \"gated.py\"\n    environment = py\n"
                           "    variables = { GATE = " + quoted(gate) + " }\n  }\n}\n");
    Outcome started = box.run({"run", "p.amlflow", "--detach"}, 60);
    BOOST_REQUIRE_MESSAGE(started.code == 0, started);
    std::string id = box.only_run();
    BOOST_TEST(contains(started.out, "run " + id + " started in the background"), started);
    BOOST_TEST(contains(started.out, "amlflow logs " + id + " --follow"), started);
    auto run = box.store()->find_run(id);
    BOOST_REQUIRE(run);
    BOOST_TEST(run->state == RunState::Running);
    long driver = run->supervisor_pid;
    BOOST_TEST(process_alive(driver));
    std::string stat = read_file("/proc/" + std::to_string(driver) + "/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string state, ppid, pgrp, session;
    fields >> state >> ppid >> pgrp >> session;
    BOOST_TEST(session == std::to_string(driver));
    BOOST_TEST(fs::read_symlink("/proc/" + std::to_string(driver) + "/fd/0") == fs::path("/dev/null"));

    auto follow = box.start({"logs", id, "--follow"});
    std::ofstream(gate) << "go\n";
    Outcome followed = follow->wait(60);
    BOOST_TEST(followed.code == 0, followed);
    for (int i = 0; i < 3; ++i) BOOST_TEST(contains(followed.out, "line " + std::to_string(i)), followed);
    BOOST_TEST(wait_until([&] { return !process_alive(driver); }, 30));
    BOOST_TEST(box.store()->find_run(id)->state == RunState::Succeeded);
    BOOST_TEST(contains(read_file(box.store()->run_folder(id) / "driver.log"), "[gated] line 2"));

    box.write("bad.amlflow", "experiment e {\n  job bad {\n    source = \"nowhere\"\n    script = \"x.py\"\n  }\n}\n");
    Outcome bad = box.run({"run", "bad.amlflow", "--detach"}, 60);
    BOOST_TEST(bad.code == 1, bad);
    BOOST_TEST(contains(bad.err, "bad.amlflow:3:"), bad);
    BOOST_TEST(box.store()->list_runs(0)->size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
