// amlcompute jobs through the real amlflow binary against the Azure ML emulator and the real
// Azurite (scripts/azureml-emulator.sh, started once for this executable with a state folder
// of its own and stopped at the end, failed or not). Skipped (77) without node_modules. With
// AMLFLOW_AZUREML_LIVE=1 they run against a real workspace (azureml_emulator_fixture.h).
#include <set>

#include "tests/unit/azureml_emulator_fixture.h"
#include "tests/unit/root_cause_script.h"

BOOST_AUTO_TEST_SUITE(azureml_e2e, *boost::unit_test::precondition(EmulatorUp()))

BOOST_AUTO_TEST_CASE(single_node_job_from_upload_to_outputs_then_register) {
    AzureBox box;
    box.write("src/train.py",
              "import os, sys\nprint('args', sys.argv[1:], flush=True)\nos.makedirs('outputs', exist_ok=True)\n"
              "open('outputs/model.pt', 'w').write('weights ' + os.environ['AMLFLOW_STEP'])\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job train {\n    source = \"src\"\n    script = \"train.py\"\n"
                               "    args = [\"--name\", \"a b\", 3]\n    compute = cluster\n  }\n"
                               "  register model m { path = train.outputs / \"model.pt\" }\n}\n");
    bool peek = emulator().peek("uploads, job PUTs and the job's state on the service");
    emulator().control("DELETE", "/requests");
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    BOOST_TEST(r.out.find("args ['--name', 'a b', '3']") != std::string::npos, r);
    BOOST_TEST(r.err.find("cannot run yet") == std::string::npos, r);
    auto store = box.store();
    std::string run = box.only_run();
    BOOST_TEST(read_file(store->step_outputs(run, "train") / "model.pt") == "weights train");
    auto record = store->find_run(run);
    BOOST_REQUIRE(record);
    BOOST_TEST(record->remote_job.rfind("amlflow-", 0) == 0u);
    int sent = peek ? emulator().count_requests("POST", "startPendingUpload") : 0;
    if (peek) {
        BOOST_TEST(emulator().job_status(record->remote_job) == "Completed");
        // The source and amlflow's helper (unless an earlier test sent it already).
        BOOST_TEST((sent == 1 || sent == 2));
    }
    Outcome models = box.go({"models", "list"});
    BOOST_TEST(models.out.find("m") != std::string::npos, models);

    // The same source again: found by its hash, nothing uploaded.
    Outcome again = box.go({"run", "p.amlflow", "--force"});
    BOOST_REQUIRE_MESSAGE(again.code == 0, again);
    if (peek) {
        BOOST_TEST(emulator().count_requests("POST", "startPendingUpload") == sent);
        BOOST_TEST(emulator().count_requests("PUT", "/jobs/") == 2);
    }

    // Neither the client secret nor a token reached the store or the output (live mode: the
    // secret when a service principal is used; tokens are the emulator's "emu." ones here).
    std::string secret = emulator().vars["AZURE_CLIENT_SECRET"];
    BOOST_REQUIRE(emulator().live() || !secret.empty());
    std::string everything = all_text_under(box.home()) + r.out + r.err + again.out + again.err;
    if (!secret.empty()) BOOST_TEST(everything.find(secret) == std::string::npos);
    if (peek) BOOST_TEST(everything.find("emu.") == std::string::npos, "a bearer token of the emulator was written");
    BOOST_TEST(everything.find("sig=") == std::string::npos, "a SAS signature was written");
}

BOOST_AUTO_TEST_CASE(two_nodes_two_processes_every_rank_logs_its_variables) {
    AzureBox box;
    box.write("src/ddp.py",
              "import os\nprint('rank', os.environ['RANK'], 'local', os.environ['LOCAL_RANK'], 'node',"
              " os.environ['NODE_RANK'], 'world', os.environ['WORLD_SIZE'], 'restart',"
              " os.environ['TORCHELASTIC_RESTART_COUNT'], 'v', os.environ['GREETING'], flush=True)\n");
    box.write("p.amlflow", one_job_on_cluster("ddp", "ddp.py",
                                              "    distribution = pytorch { nodes = 2, processes_per_node = 2 }\n"
                                              "    variables = { GREETING = \"hello there\" }\n"));
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    for (int rank = 0; rank < 4; ++rank) {
        std::string log = read_file(store->rank_log(run, "ddp", 0, rank));
        std::string expected = "rank " + std::to_string(rank) + " local " + std::to_string(rank % 2) + " node " +
                               std::to_string(rank / 2) + " world 4 restart 0 v hello there";
        BOOST_TEST(log.find(expected) != std::string::npos, "rank " << rank << " log: " << log);
        BOOST_TEST(r.out.find("[ddp " + std::to_string(rank) + "] " + expected) != std::string::npos, r);
    }
}

BOOST_AUTO_TEST_CASE(ctrl_c_cancels_the_job_on_the_service) {
    AzureBox box;
    box.write("src/long.py", "import time\nprint('started', flush=True)\nfor i in range(600):\n    time.sleep(0.1)\n");
    box.write("p.amlflow", one_job_on_cluster("long", "long.py"));
    auto process = box.launch({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(box.wait_for_output("started", emulator().patience(60)), "the job's first line never arrived");
    process->signal(SIGINT);
    Outcome r = process->wait(emulator().patience(60));
    BOOST_TEST(r.code == 130, r);
    auto record = box.store()->find_run(box.only_run());
    BOOST_REQUIRE(record);
    if (emulator().peek("the job's state on the service")) BOOST_TEST(emulator().job_status(record->remote_job) == "Canceled");
}

BOOST_AUTO_TEST_CASE(a_job_failing_once_is_resubmitted_as_a_new_job,
                     *boost::unit_test::precondition(NeedsControl{"a failing job on demand"})) {
    AzureBox box;
    box.write("src/ok.py", "import os\nprint('restart', os.environ['TORCHELASTIC_RESTART_COUNT'], flush=True)\n");
    box.write("p.amlflow", one_job_on_cluster("flaky", "ok.py", "    restarts = 1\n    backoff = 100ms\n"));
    emulator().control("POST", "/faults", {{"failJobs", 1}, {"exitCode", 1}});
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    auto store = box.store();
    std::string run = box.only_run();
    auto tries = attempts(*store, run, "flaky");
    BOOST_REQUIRE_EQUAL(tries.size(), 2u);
    BOOST_TEST(tries[0].state == AttemptState::Failed);
    BOOST_TEST(tries[1].state == AttemptState::Succeeded);
    BOOST_TEST(read_file(store->rank_log(run, "flaky", 1, 0)).find("restart 1") != std::string::npos);
    std::string first = az::job_name(run, "flaky", 0), second = az::job_name(run, "flaky", 1);
    BOOST_TEST(emulator().job_status(first) == "Failed");
    BOOST_TEST(emulator().job_status(second) == "Completed");
}

// Item 3: the service's states, mapped to ours, each with how long the one before took, as
// the polls see them (the emulator walks Queued and Preparing in 150 ms, so a poll may miss
// them; a real job spends minutes there); listed with their times when the job ends, and kept
// with the run's jobs (`runs show`). The board shows the same in the step's row (test_live_board).
BOOST_AUTO_TEST_CASE(service_states_with_their_times) {
    AzureBox box;
    box.write("src/slow.py", "import time\nprint('working', flush=True)\ntime.sleep(3)\n");
    box.write("p.amlflow", one_job_on_cluster("slow", "slow.py"));
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    std::string said = r.out + r.err;
    BOOST_TEST(said.find("' running (Running, ") != std::string::npos, r);
    BOOST_TEST(said.find("' succeeded (Completed, ") != std::string::npos, r);
    size_t listed = said.find("service states: ");
    BOOST_REQUIRE_MESSAGE(listed != std::string::npos, r);
    BOOST_TEST(said.substr(listed, said.find('\n', listed) - listed).find("Running ") != std::string::npos, r);
    Outcome show = box.go({"runs", "show", box.only_run()});
    size_t states = show.out.find("    states: ");
    BOOST_REQUIRE_MESSAGE(states != std::string::npos, show);
    std::string line = show.out.substr(states, show.out.find('\n', states) - states);
    BOOST_TEST(line.find("Running ") != std::string::npos, line);
    BOOST_TEST(line.find(" s") != std::string::npos, line);
    BOOST_TEST(line.find("Completed") == std::string::npos, line);  // the end state took no time
}

// Item 4: the script sees the local contract on the service. A per-node launch on 2 nodes
// ($NODE_RANK, $NODES, $WORLD_SIZE as locally), a local folder argument and a job input
// shipped as inputs, amlflow's helper importable, metrics and ./logs brought back, the
// checkpoint folder mounted.
BOOST_AUTO_TEST_CASE(per_node_launch_inputs_helper_metrics_and_logs) {
    AzureBox box;
    box.write("data/a.txt", "alpha\n");
    box.write("cfg.txt", "configured\n");
    box.write("src/node.py",
              "import os, sys, amlflow\nnode = os.environ['NODE_RANK']\n"
              "print('node', node, 'nodes', os.environ['NODES'], 'world', os.environ['WORLD_SIZE'],"
              " 'rank' in os.environ and os.environ.get('RANK'), flush=True)\n"
              "print('data', sorted(os.listdir(sys.argv[1])), open(os.path.join(sys.argv[1], 'a.txt')).read().strip(), flush=True)\n"
              "print('cfg', open(os.environ['AMLFLOW_INPUT_CFG']).read().strip(), flush=True)\n"
              "print('checkpoints', os.path.isdir(os.environ['AMLFLOW_CHECKPOINTS']), flush=True)\n"
              "amlflow.log('loss', 0.25 + int(node), step=1)\n"
              "open(os.path.join(os.environ['AMLFLOW_LOGS'], 'note-' + node + '.txt'), 'w').write('kept')\n");
    box.write("p.amlflow", std::string(kWorkspace) +
                               "experiment e {\n  job launch {\n    source = \"src\"\n"
                               "    command = [\"python\", \"node.py\"]\n    args = [\".\" / \"data\"]\n"
                               "    inputs = { cfg = \"cfg.txt\" }\n    compute = cluster\n"
                               "    distribution = per_node { nodes = 2, processes_per_node = 3 }\n  }\n}\n");
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    for (int node = 0; node < 2; ++node) {
        std::string n = std::to_string(node);
        BOOST_TEST(r.out.find("node " + n + " nodes 2 world 6 False") != std::string::npos, r);
    }
    BOOST_TEST(r.out.find("data ['a.txt'] alpha") != std::string::npos, r);
    // The folder travelled as an input: the rank did not read this machine's path.
    BOOST_TEST(r.out.find(box.root().string()) == std::string::npos, r);
    BOOST_TEST(r.out.find("cfg configured") != std::string::npos, r);
    BOOST_TEST(r.out.find("checkpoints True") != std::string::npos, r);
    auto store = box.store();
    std::string run = box.only_run();
    fs::path step = store->run_folder(run) / "launch";
    BOOST_TEST(read_file(step / "logs" / "note-1.txt") == "kept");
    BOOST_TEST(read_file(step / "metrics" / "attempt-1" / "rank-1.jsonl").find("1.25") != std::string::npos);
    // Node 0's record came live from MLflow and node 1's in its file when the job ended:
    // each once in the store (rank 0's file is not copied over what MLflow gave).
    auto losses = store->metrics_of(run, "launch", "loss");
    BOOST_REQUIRE(losses);
    BOOST_REQUIRE_EQUAL(losses->size(), 2u);
    std::multiset<double> values;
    for (const auto& m : *losses) values.insert(m.value);
    BOOST_TEST((values == std::multiset<double>{0.25, 1.25}));
    BOOST_TEST(fs::exists(step / "logs" / "amlflow-metrics" / "rank-0.jsonl"));
    Outcome metrics = box.go({"metrics", run});
    BOOST_TEST(metrics.out.find("loss") != std::string::npos, metrics);
    Outcome show = box.go({"runs", "show", run});
    BOOST_TEST(show.out.find("studio: https://ml.azure.com/runs/") != std::string::npos, show);
    // A second run sends nothing: the helper, the folder and the file are found by hash.
    int uploads = emulator().count_requests("POST", "startPendingUpload");
    Outcome again = box.go({"run", "p.amlflow", "--force"});
    BOOST_REQUIRE_MESSAGE(again.code == 0, again);
    if (emulator().peek("uploads")) BOOST_TEST(emulator().count_requests("POST", "startPendingUpload") == uploads);
}

// Item 4/3: an mpi job of 2 nodes x 2 processes, an mpi4py all-reduce across its ranks.
BOOST_AUTO_TEST_CASE(mpi_two_by_two_all_reduce) {
    AzureBox box;
    box.write("src/allreduce.py",
              "import os\nfrom mpi4py import MPI\ncomm = MPI.COMM_WORLD\n"
              "total = comm.allreduce(comm.Get_rank() + 1, op=MPI.SUM)\n"
              "print('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'], 'node', os.environ['NODE_RANK'],"
              " 'local', os.environ['LOCAL_RANK'], 'sum', total, flush=True)\n");
    // The emulator runs this machine's python (with mpi4py); a real job needs it installed.
    std::string environment = emulator().live() ? "    environment = mpi\n" : "";
    box.write("p.amlflow", std::string(kWorkspace) + (environment.empty() ? "" : "environment mpi { pip = [\"mpi4py\"] }\n") +
                               "experiment e {\n  job reduce {\n    source = \"src\"\n    script = \"allreduce.py\"\n" +
                               environment + "    compute = cluster\n    distribution = mpi { nodes = 2, processes_per_node = 2 }\n  }\n}\n");
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, r);
    for (int rank = 0; rank < 4; ++rank) {
        std::string expected = "rank " + std::to_string(rank) + " of 4 node " + std::to_string(rank / 2) + " local " +
                               std::to_string(rank % 2) + " sum 10";
        BOOST_TEST(r.out.find(expected) != std::string::npos, r);
    }
}

// Item 6: amlflow killed with SIGKILL while its job runs: the run is detached with the job's
// name; `cancel RUN` from another terminal cancels the job; in another run `--resume RUN`
// follows the job it left instead of submitting another.
BOOST_AUTO_TEST_CASE(kill_9_then_cancel_or_resume_reattaches) {
    AzureBox box;
    box.write("src/long.py", "import os, time\nprint('started', flush=True)\n"
                             "time.sleep(float(os.environ['SECONDS_TO_RUN']))\nprint('finished', flush=True)\n");
    for (const char* mode : {"cancel", "resume"}) {
        box.write("p.amlflow", one_job_on_cluster("long", "long.py",
                                                  "    variables = { SECONDS_TO_RUN = \"" +
                                                      std::string(std::string(mode) == "cancel" ? "60" : "4") + "\" }\n"));
        auto process = box.launch({"run", "p.amlflow"});
        BOOST_REQUIRE(box.wait_for_output("started", emulator().patience(60)));
        process->signal(SIGKILL);
        process->wait(10);
        auto store = box.store();
        auto runs = store->list_runs(1);
        BOOST_REQUIRE(runs && runs->size() == 1);
        std::string run = runs->front().id;
        Outcome show = box.go({"runs", "show", run});
        BOOST_TEST(show.out.find("detached") != std::string::npos, show);
        std::string job = box.store()->find_run(run)->remote_job;
        BOOST_REQUIRE(!job.empty());
        if (std::string(mode) == "cancel") {
            Outcome cancel = box.go({"cancel", run});
            BOOST_TEST(cancel.code == 0, cancel);
            if (emulator().peek("the job's state on the service")) BOOST_TEST(emulator().job_status(job) == "Canceled");
            BOOST_TEST(box.store()->find_run(run)->state == RunState::Canceled);
        } else {
            int puts = emulator().count_requests("PUT", "/jobs/");
            Outcome resumed = box.go({"run", "--resume", run});
            BOOST_TEST(resumed.code == 0, resumed);
            BOOST_TEST((resumed.out + resumed.err).find("reattached to job '" + job + "'") != std::string::npos, resumed);
            BOOST_TEST(resumed.out.find("finished") != std::string::npos, resumed);
            if (emulator().peek("job PUTs and the job's state on the service")) {
                BOOST_TEST(emulator().count_requests("PUT", "/jobs/") == puts, "a second job was submitted");
                BOOST_TEST(emulator().job_status(job) == "Completed");
            }
        }
    }
}

// Item 9: every fault kind on the way is survived, and the job is created exactly once.
BOOST_AUTO_TEST_CASE(each_fault_kind_survived_with_the_job_created_once,
                     *boost::unit_test::precondition(NeedsControl{"faults on demand, request counts"})) {
    AzureBox box;
    box.write("src/ok.py", "print('fine', flush=True)\n");
    box.write("p.amlflow", one_job_on_cluster("ok", "ok.py"));
    std::vector<json> faults = {
        {{"method", "PUT"}, {"path", "/jobs/"}, {"status", 429}, {"retryAfter", 1}},
        {{"method", "PUT"}, {"path", "/jobs/"}, {"status", 503}, {"count", 2}},
        {{"method", "PUT"}, {"path", "/jobs/"}, {"reset", true}},
        {{"method", "PUT"}, {"path", "/jobs/"}, {"delayMs", 1500}},
        {{"method", "PUT"}, {"path", "/jobs/"}, {"expiredToken", true}},
        {{"method", "GET"}, {"path", "/jobs/"}, {"status", 429}, {"retryAfter", 1}},
        {{"method", "GET"}, {"path", "/history/"}, {"reset", true}},
    };
    for (const json& fault : faults) {
        emulator().control("DELETE", "/requests");
        emulator().control("POST", "/faults", fault);
        Outcome r = box.go({"run", "p.amlflow", "--force"});
        BOOST_TEST(r.code == 0, fault.dump() << "\n" << r);
        BOOST_TEST(r.out.find("fine") != std::string::npos, fault.dump() << "\n" << r);
        BOOST_TEST(emulator().count_requests("PUT", "/jobs/", 201) == 1, fault.dump() << ": the job was not created once");
        emulator().control("DELETE", "/faults");
    }
}

// Item 9: a wrong client secret gets one clear message naming what was tried.
BOOST_AUTO_TEST_CASE(a_bad_credential_gets_its_message) {
    AzureBox box;
    box.write("src/ok.py", "print('fine')\n");
    box.write("p.amlflow", one_job_on_cluster("ok", "ok.py"));
    std::string good = emulator().vars["AZURE_CLIENT_SECRET"];
    if (good.empty()) {  // live mode without a service principal: nothing to get wrong
        BOOST_TEST_MESSAGE("live mode: no AZURE_CLIENT_SECRET, so no wrong one to try");
        return;
    }
    emulator().vars["AZURE_CLIENT_SECRET"] = "not-the-secret";
    Outcome r = box.go({"run", "p.amlflow"});
    emulator().vars["AZURE_CLIENT_SECRET"] = good;
    BOOST_TEST(r.code == 2, r);
    BOOST_TEST(r.err.find("AZURE_CLIENT_SECRET") != std::string::npos, r);
    BOOST_TEST(r.err.find("Invalid client secret") != std::string::npos, r);
    BOOST_TEST(r.err.find("not-the-secret") == std::string::npos, r);
}

// Item 5: hang_timeout works on a remote rank's silence: the job is canceled, the attempt fails as a hang.
BOOST_AUTO_TEST_CASE(hang_timeout_on_remote_log_silence) {
    AzureBox box;
    box.write("src/quiet.py", "import time\nprint('one line', flush=True)\ntime.sleep(60)\n");
    box.write("p.amlflow", one_job_on_cluster("quiet", "quiet.py", "    hang_timeout = 3s\n"));
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_TEST(r.code == 2, r);
    BOOST_TEST(r.err.find("wrote no output for") != std::string::npos, r);
    auto record = box.store()->find_run(box.only_run());
    BOOST_REQUIRE(record);
    if (emulator().peek("the job's state on the service")) BOOST_TEST(emulator().job_status(record->remote_job) == "Canceled");
}

// Item 7: the root cause across remote ranks. Rank 1 raises first; rank 0 then prints
// Horovod's and gloo's shutdown noise and a traceback that only says its peer went away. The
// service's error names the lowest rank that failed (rank 0); the report names rank 1 and
// shows its lines.
BOOST_AUTO_TEST_CASE(root_cause_is_the_rank_with_the_first_own_traceback) {
    AzureBox box;
    box.write("src/fail.py", kRank1RaisesFirst);
    box.write("p.amlflow", one_job_on_cluster("pair", "fail.py", "    distribution = pytorch { processes_per_node = 2 }\n"));
    Outcome r = box.go({"run", "p.amlflow"});
    BOOST_TEST(r.code == 2, r);
    std::string report = failure_report(r.err, "pair");
    BOOST_REQUIRE_MESSAGE(!report.empty(), r);
    BOOST_TEST(report.find("root cause: rank 1 raised the first error") != std::string::npos, report);
    BOOST_TEST(report.find("| ValueError: bad batch 17 on rank 1") != std::string::npos, report);
    BOOST_TEST(report.find("| RuntimeError:") == std::string::npos, report);  // not rank 0's lines
    auto store = box.store();
    auto tries = attempts(*store, box.only_run(), "pair");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    BOOST_TEST(failure_of(tries[0]).value("rank", -2) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
