// The root cause of a local job's failure across ranks (DESIGN §4, issue 18 item 7): rank 1
// raises first, rank 0 exits first with only Horovod/gloo shutdown noise and a traceback that
// says its peer went away. The failure report names rank 1 and shows its lines.
#include "tests/unit/e2e_harness.h"
#include "tests/unit/root_cause_script.h"

namespace {

// The same failure under torchrun's kind of launch and under mpirun (ranks through the shim,
// each writing its own log file on this machine).
void check_root_cause(const std::string& distribution) {
    Sandbox box;
    box.write("src/fail.py", kRank1RaisesFirst);
    box.write("p.amlflow", R"(
environment py { python = "/usr/bin/python3" }
compute here : local { cpus = 2 }
experiment e {
  job pair {
    source = "src", script = "fail.py", environment = py, compute = here
    distribution = )" + distribution + R"( { processes_per_node = 2 }
  }
}
)");
    Outcome r = box.run({"run", "p.amlflow"}, 120);
    BOOST_REQUIRE_MESSAGE(r.finished, r);
    BOOST_TEST(r.code == 2, r);
    std::string report = failure_report(r.err, "pair");
    BOOST_REQUIRE_MESSAGE(!report.empty(), r);
    BOOST_TEST(contains(report, "root cause: rank 1 raised the first error (ValueError: bad batch 17 on rank 1)"), report);
    BOOST_TEST(contains(report, "rank 0 exited with code 1 after it"), report);
    BOOST_TEST(contains(report, "rank-1"), report);  // the log it shows is rank 1's
    BOOST_TEST(contains(report, "| ValueError: bad batch 17 on rank 1"), report);
    BOOST_TEST(!contains(report, "| RuntimeError:"), report);  // not rank 0's lines
    auto store = box.store();
    auto tries = attempts(*store, box.only_run(), "pair");
    BOOST_REQUIRE_EQUAL(tries.size(), 1u);
    BOOST_TEST(failure_of(tries[0]).value("rank", -2) == 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(root_cause_e2e)

BOOST_AUTO_TEST_CASE(the_rank_with_the_first_own_traceback_is_the_root_cause) { check_root_cause("pytorch"); }

BOOST_AUTO_TEST_CASE(through_the_shims_too) { check_root_cause("mpi"); }

BOOST_AUTO_TEST_SUITE_END()
