// Detached runs against the Azure ML emulator and Azurite (issue 19 item 4), through the real
// amlflow binary: `run --detach` returns with the run id while its job runs, driven by a
// background amlflow; `logs --follow` and `cancel` from other processes reach it; with that
// amlflow killed (-9, as a reboot would), `runs show` catches the store up with the service
// and `logs --follow` streams the ranks' logs from the service; a plain run survives the
// service being unreachable for a while with every line. Skipped (77) without node_modules.
//
// The jobs wait for a gate file before they print their lines (the emulator runs them on
// this machine), so "while the job runs" is a fact the test makes, not a timing it hopes for.
#include "tests/unit/azureml_emulator_fixture.h"

#include "runtime/azureml/job_watch.h"

namespace {

// Each rank prints "started", waits for $GATE (at most two minutes), then its lines; rank 0
// writes ./outputs/model.txt; each exits $EXIT_CODE (default 0).
const char* kGated =
    "import os, sys, time\nrank = os.environ.get('RANK', '0')\nprint('started rank', rank, flush=True)\n"
    "deadline = time.time() + 120\n"
    "while not os.path.exists(os.environ['GATE']) and time.time() < deadline:\n    time.sleep(0.05)\n"
    "for i in range(3):\n    print('rank', rank, 'line', i, flush=True)\n"
    "if rank == '0':\n    os.makedirs('outputs', exist_ok=True)\n    open('outputs/model.txt', 'w').write('model of rank 0')\n"
    "sys.exit(int(os.environ.get('EXIT_CODE', '0')))\n";

// src/gated.py and p.amlflow, whose job `gated` runs it on two ranks.
void write_gated(AzureBox& box, const fs::path& gate, const std::string& exit_code = "0") {
    box.write("src/gated.py", kGated);
    box.write("p.amlflow", one_job_on_cluster("gated", "gated.py",
                                              "    distribution = pytorch { nodes = 1, processes_per_node = 2 }\n"
                                              "    variables = { GATE = " + quoted(gate) + ", EXIT_CODE = \"" +
                                                  exit_code + "\" }\n"));
}

// "run <id> started in the background ..." -> <id>.
std::string run_id_of(const std::string& out) {
    size_t at = out.find("run ");
    if (at == std::string::npos) return "";
    size_t end = out.find(' ', at + 4);
    return out.substr(at + 4, end == std::string::npos ? std::string::npos : end - at - 4);
}

// The background amlflow of a run: its pid while it lives; killed at the end of a test that
// failed half way, so that no driver outlives the test (only one whose command line says it
// is a driver, so a reused pid is never hit).
struct Driver {
    explicit Driver(long pid) : pid(pid) {}
    Driver(const Driver&) = delete;
    Driver& operator=(const Driver&) = delete;
    long pid = 0;
    bool alive() const {
        return process_alive(pid) && read_file("/proc/" + std::to_string(pid) + "/cmdline").find("--driver-fd") != std::string::npos;
    }
    bool gone_within(double seconds) const {
        return wait_until([this] { return !alive(); }, seconds);
    }
    ~Driver() {
        if (alive()) kill(static_cast<pid_t>(pid), SIGKILL);
    }
};

// `run p.amlflow --detach`, required to start: its output, the run's id and record, and its
// background amlflow.
struct Detached {
    Outcome started;
    std::string run;
    RunRecord record;
    Driver driver;
};
Detached start_detached(AzureBox& box) {
    Outcome started = box.go({"run", "p.amlflow", "--detach"}, 180);
    BOOST_REQUIRE_MESSAGE(started.code == 0, started);
    std::string run = run_id_of(started.out);
    auto record = box.store()->find_run(run);
    BOOST_REQUIRE_MESSAGE(record, started);
    return Detached{started, run, *record, Driver(record->supervisor_pid)};
}

void open_gate(const fs::path& gate) {
    std::ofstream(gate) << "go\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_detach_e2e, *boost::unit_test::precondition(EmulatorUp()))

// `run --detach` returns with the id and the job's name while the job runs; `logs --follow`
// from another process sees every rank's lines and ends when the job (and the run) ends.
BOOST_AUTO_TEST_CASE(run_detach_returns_while_the_job_runs_and_follow_sees_every_rank) {
    AzureBox box;
    fs::path gate = box.path("gate");
    write_gated(box, gate);
    auto [started, run, record, driver] = start_detached(box);
    BOOST_TEST(record.state == RunState::Running);
    BOOST_TEST(driver.alive());
    BOOST_REQUIRE(!record.remote_job.empty());
    BOOST_TEST(contains(started.out, "job '" + record.remote_job + "' submitted"), started);
    BOOST_TEST(contains(started.out, "amlflow logs " + run + " --follow"), started);
    BOOST_TEST(contains(started.out, "amlflow cancel " + run), started);
    std::string status = emulator().job_status(record.remote_job);
    BOOST_TEST(!az::terminal_status(status), "the job ended before the foreground returned: " << status);
    // Its own session, stdin /dev/null, its output in the run's folder.
    std::string stat = read_file("/proc/" + std::to_string(driver.pid) + "/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string state, ppid, pgrp, session;
    fields >> state >> ppid >> pgrp >> session;
    BOOST_TEST(session == std::to_string(driver.pid));
    BOOST_TEST(fs::read_symlink("/proc/" + std::to_string(driver.pid) + "/fd/0") == fs::path("/dev/null"));

    auto follow = box.launch({"logs", run, "--follow"});
    open_gate(gate);
    Outcome followed = follow->wait(120);
    BOOST_TEST(followed.code == 0, followed);
    for (const char* rank : {"0", "1"}) {
        for (int line = 0; line < 3; ++line) {
            std::string text = std::string("rank ") + rank + " line " + std::to_string(line);
            BOOST_TEST(contains(followed.out, text), text << "\n" << followed);
        }
    }
    BOOST_REQUIRE(driver.gone_within(60));
    auto after = box.store()->find_run(run);
    BOOST_TEST(after->state == RunState::Succeeded);
    BOOST_TEST(read_file(box.store()->step_outputs(run, "gated") / "model.txt") == "model of rank 0");
    BOOST_TEST(contains(read_file(box.store()->run_folder(run) / "driver.log"), "rank 1 line 2"));
    Outcome driver_log = box.go({"logs", run, "--driver"});
    BOOST_TEST(contains(driver_log.out, "succeeded"), driver_log);
}

// `cancel RUN` from another process stops the background amlflow, which cancels the job on
// the service: canceled there and in the store.
BOOST_AUTO_TEST_CASE(a_detached_run_is_canceled_from_another_process) {
    AzureBox box;
    write_gated(box, box.path("never"));
    auto [started, run, record, driver] = start_detached(box);
    Outcome cancel = box.go({"cancel", run});
    BOOST_TEST(cancel.code == 0, cancel);
    BOOST_TEST(emulator().job_status(record.remote_job) == "Canceled");
    BOOST_TEST(box.store()->find_run(run)->state == RunState::Canceled);
    BOOST_TEST(driver.gone_within(30));
}

// The background amlflow killed with SIGKILL while the job waits: the run is detached, `runs
// show` says the job still runs; once the job has ended, `runs show` catches up: the job's end
// in remote-jobs.json, the step succeeded with the service's times, the outputs and every
// rank's log brought back, the run succeeded.
BOOST_AUTO_TEST_CASE(driver_killed_then_runs_show_catches_up_with_the_jobs_end) {
    AzureBox box;
    fs::path gate = box.path("gate");
    write_gated(box, gate);
    auto [started, run, record, driver] = start_detached(box);
    kill(static_cast<pid_t>(driver.pid), SIGKILL);
    BOOST_REQUIRE(driver.gone_within(10));
    Outcome during = box.go({"runs", "show", run});
    BOOST_TEST(contains(during.out, "detached"), during);
    BOOST_TEST(contains(during.out, "on Azure ML ("), during);
    BOOST_TEST(box.store()->find_run(run)->state == RunState::Detached);

    open_gate(gate);
    BOOST_REQUIRE(wait_until([job = record.remote_job] { return emulator().job_status(job) == "Completed"; }, 60));
    Outcome after = box.go({"runs", "show", run});
    BOOST_TEST(after.code == 0, after);
    BOOST_TEST(contains(after.out, "ended Completed"), after);
    BOOST_TEST(contains(after.out, "run " + run + ": succeeded"), after);
    auto store = box.store();
    BOOST_TEST(store->find_run(run)->state == RunState::Succeeded);
    auto step = step_record(*store, run, "gated");
    BOOST_REQUIRE(step);
    BOOST_TEST(step->state == StepState::Succeeded);
    BOOST_TEST(step->finished_ms > 0);
    auto tries = attempts(*store, run, "gated");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    BOOST_TEST(tries[0].state == AttemptState::Succeeded);
    BOOST_TEST(read_file(store->step_outputs(run, "gated") / "model.txt") == "model of rank 0");
    for (int rank = 0; rank < 2; ++rank) {
        BOOST_TEST(contains(read_file(store->rank_log(run, "gated", 0, rank)), "rank " + std::to_string(rank) + " line 2"));
    }
    BOOST_TEST(contains(read_file(store->run_folder(run) / "remote-jobs.json"), "\"Completed\""));
    Outcome logs = box.go({"logs", run, "--rank", "1"});
    BOOST_TEST(contains(logs.out, "rank 1 line 0"), logs);
}

// The background amlflow killed, then `logs --follow` from another terminal streams the ranks'
// lines from the service until the job ends and exits as the job did: 0 completed (the run
// then succeeded), 2 failed (the run failed, with the job's end in the attempt).
BOOST_AUTO_TEST_CASE(driver_killed_then_logs_follow_streams_from_the_service) {
    for (const char* exit_code : {"0", "3"}) {
        AzureBox box;
        fs::path gate = box.path("gate");
        write_gated(box, gate, exit_code);
        auto [started, run, record, driver] = start_detached(box);
        kill(static_cast<pid_t>(driver.pid), SIGKILL);
        BOOST_REQUIRE(driver.gone_within(10));
        auto follow = box.launch({"logs", run, "--follow"});
        BOOST_TEST(box.wait_for_output("following its job on Azure ML", 30, "err"));
        open_gate(gate);
        Outcome followed = follow->wait(120);
        bool ok = std::string(exit_code) == "0";
        BOOST_TEST(followed.code == (ok ? 0 : 2), followed);
        for (int rank = 0; rank < 2; ++rank) {
            BOOST_TEST(contains(followed.out, "rank " + std::to_string(rank) + " line 2"), followed);
        }
        auto store = box.store();
        BOOST_TEST(store->find_run(run)->state == (ok ? RunState::Succeeded : RunState::Failed));
        auto tries = attempts(*store, run, "gated");
        BOOST_REQUIRE_EQUAL(tries.size(), 1u);
        BOOST_TEST(tries[0].state == (ok ? AttemptState::Succeeded : AttemptState::Failed));
        if (!ok) BOOST_TEST(contains(failure_of(tries[0]).value("message", ""), "ended Failed"), tries[0].failure_json);
    }
}

// A background amlflow that fails before its first job is submitted (a wrong client secret):
// the foreground says why, with the last lines of its output, and exits with its code.
BOOST_AUTO_TEST_CASE(a_driver_failing_before_its_first_job_is_said) {
    AzureBox box;
    write_gated(box, box.path("never"));
    std::string good = emulator().vars["AZURE_CLIENT_SECRET"];
    emulator().vars["AZURE_CLIENT_SECRET"] = "not-the-secret";
    Outcome r = box.go({"run", "p.amlflow", "--detach"}, 180);
    emulator().vars["AZURE_CLIENT_SECRET"] = good;
    BOOST_TEST(r.code == 2, r);
    BOOST_TEST(contains(r.err, "ended before its first job was submitted"), r);
    BOOST_TEST(contains(r.err, "Invalid client secret"), r);
    BOOST_TEST(box.store()->find_run(box.only_run())->state == RunState::Failed);
}

// A plain run whose service stops answering for 20 s while the job runs: the run neither
// fails nor gives up, says once that the service is unreachable and once that it is back,
// and every line the job wrote meanwhile arrives, in order.
BOOST_AUTO_TEST_CASE(an_outage_mid_run_loses_no_line) {
    AzureBox box;
    box.write("src/ticks.py", "import time\nfor i in range(30):\n    print('tick', i, flush=True)\n    time.sleep(1)\n");
    box.write("p.amlflow", one_job_on_cluster("ticks", "ticks.py"));
    auto process = box.launch({"run", "p.amlflow"});
    BOOST_REQUIRE(box.wait_for_output("tick 2", 120));
    emulator().control("POST", "/faults", {{"path", ".*"}, {"status", 503}, {"forMs", 20000}});
    Outcome r = process->wait(180);
    emulator().control("DELETE", "/faults");
    BOOST_TEST(r.code == 0, r);
    std::vector<std::string> ticks;
    for (const std::string& line : lines_of(r.out)) {
        if (line.find("] tick ") != std::string::npos) ticks.push_back(line.substr(line.find("tick ")));
    }
    BOOST_REQUIRE_EQUAL(ticks.size(), 30u);
    for (int i = 0; i < 30; ++i) BOOST_TEST(ticks[static_cast<size_t>(i)] == "tick " + std::to_string(i));
    auto count = [](const std::string& text, const std::string& part) {
        int n = 0;
        for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
        return n;
    };
    BOOST_TEST(count(r.out, "the service cannot be reached") == 1, r);
    BOOST_TEST(count(r.out, "the service answers again") == 1, r);
    std::string log = read_file(box.store()->rank_log(box.only_run(), "ticks", 0, 0));
    BOOST_TEST(contains(log, "tick 0\n"), log);
    BOOST_TEST(contains(log, "tick 29\n"), log);
}

BOOST_AUTO_TEST_SUITE_END()
