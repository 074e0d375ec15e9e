// `--compute NAME` through the real binary: one file moved between computes without an
// edit. The checker checks the job where it is asked to run, the run records where it ran,
// and the cache answers a step only with a result from the compute it was asked to run on.
#include "tests/unit/e2e_harness.h"

namespace {

// `here` holds one rank; the job needs two. `mid` and `wide` hold them.
const char* kFile =
    "compute here : local { cpus = 1 }\n"
    "compute mid  : local { cpus = 2 }\n"
    "compute wide : local { cpus = 4 }\n"
    "experiment e {\n"
    "  job train {\n"
    "    source       = \"src\"\n"
    "    command      = [\"/usr/bin/python3\", \"train.py\"]\n"
    "    compute      = here\n"
    "    distribution = pytorch { processes_per_node = 2 }\n"
    "  }\n"
    "}\n";

const char* kScript =
    "import os\n"
    "print('world', os.environ['WORLD_SIZE'], 'rank', os.environ['RANK'], flush=True)\n"
    "os.makedirs('outputs', exist_ok=True)\n"
    "open('outputs/rank%s.txt' % os.environ['RANK'], 'w').write('done')\n";

// The run ids, oldest first.
std::vector<std::string> run_ids(Sandbox& box) {
    auto store = box.store();
    auto runs = store->list_runs(0);
    BOOST_REQUIRE(runs);
    std::vector<std::string> ids;
    for (const RunRecord& run : *runs) ids.insert(ids.begin(), run.id);
    return ids;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compute_switch_e2e)

BOOST_AUTO_TEST_CASE(the_switch_is_checked_where_the_job_goes) {
    Sandbox box;
    box.write("src/train.py", kScript);
    box.write("p.amlflow", kFile);
    // As written: two ranks on one slot.
    Outcome as_written = box.run({"check", "p.amlflow"}, 30);
    BOOST_REQUIRE(as_written.finished);
    BOOST_TEST(as_written.code == 1, as_written);
    BOOST_TEST(contains(as_written.err, "error: job 'train' runs 2 processes per node but compute 'here' has 1 CPU slot"),
               as_written);
    Outcome moved = box.run({"check", "p.amlflow", "--compute", "mid"}, 30);
    BOOST_TEST(moved.code == 0, moved);
    Outcome plan = box.run({"plan", "p.amlflow", "--compute", "wide"}, 30);
    BOOST_TEST(plan.code == 0, plan);
    BOOST_TEST(contains(plan.out, "compute: wide (local)"), plan);
    BOOST_TEST(!contains(plan.out, "here"), plan);
    // A name the file does not declare: the error lists those it does.
    Outcome unknown = box.run({"run", "p.amlflow", "--compute", "wdie"}, 30);
    BOOST_TEST(unknown.code == 1, unknown);
    BOOST_TEST(contains(unknown.err, "--compute:1:1: error: unknown compute 'wdie'"), unknown);
    BOOST_TEST(contains(unknown.err, "are 'here', 'mid', 'wide'"), unknown);
    BOOST_TEST(contains(unknown.err, "did you mean 'wide'?"), unknown);
    BOOST_TEST(!fs::exists(box.home()), "nothing is recorded for a file with errors");
}

BOOST_AUTO_TEST_CASE(a_result_is_reused_only_on_the_compute_it_ran_on) {
    Sandbox box;
    box.write("src/train.py", kScript);
    box.write("p.amlflow", kFile);
    Outcome first = box.run({"run", "p.amlflow", "--compute", "wide"}, 120);
    BOOST_REQUIRE(first.finished);
    BOOST_TEST_REQUIRE(first.code == 0, first);
    BOOST_TEST(contains(first.out, "world 2 rank 1"), first);  // both ranks ran, where 'here' holds one
    std::string wide_run = run_ids(box).back();
    Outcome shown = box.run({"runs", "show", wide_run}, 30);
    BOOST_TEST(contains(shown.out, "compute: wide (local)"), shown);
    {
        // The recorded plan placed it there, so `--resume` would run it there too.
        auto store = box.store();
        auto run = store->find_run(wide_run);
        BOOST_REQUIRE(run);
        BOOST_TEST(contains(run->plan_json, "\"$compute\":\"compute:wide\""));
        BOOST_TEST(step_record(*store, wide_run, "train")->state == StepState::Succeeded);
    }

    // Another compute: the result from 'wide' is not reused.
    Outcome elsewhere = box.run({"run", "p.amlflow", "--compute", "mid"}, 120);
    BOOST_TEST_REQUIRE(elsewhere.code == 0, elsewhere);
    std::string mid_run = run_ids(box).back();
    BOOST_TEST(mid_run != wide_run);
    {
        auto store = box.store();
        auto step = step_record(*store, mid_run, "train");
        BOOST_TEST(step->state == StepState::Succeeded);
        BOOST_TEST(step->cached_from.empty());
        BOOST_TEST(step->attempts == 1);
    }
    BOOST_TEST(contains(elsewhere.out, "world 2 rank 0"), elsewhere);

    // Before running again, `plan` says what would be reused, and from which run.
    Outcome plan = box.run({"plan", "p.amlflow", "--compute", "wide"}, 30);
    BOOST_TEST(contains(plan.out, "1 of 1 steps would be reused"), plan);
    BOOST_TEST(contains(plan.out, "train: reused from run " + wide_run), plan);

    // The same compute again: each reuses its own result.
    for (const auto& [compute, origin] : {std::make_pair("wide", wide_run), std::make_pair("mid", mid_run)}) {
        Outcome again = box.run({"run", "p.amlflow", "--compute", compute}, 120);
        BOOST_TEST_REQUIRE(again.code == 0, again);
        BOOST_TEST(!contains(again.out, "world 2"), again);  // no rank started
        auto store = box.store();
        auto step = step_record(*store, run_ids(box).back(), "train");
        BOOST_TEST(step->state == StepState::Cached);
        BOOST_TEST(step->cached_from == origin, "on " << compute);
    }
}

BOOST_AUTO_TEST_SUITE_END()
