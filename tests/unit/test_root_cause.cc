// The root cause read from the ranks' last lines (runtime/core/root_cause.h): a rank that only
// reports that a peer went away is not the cause when another rank has a traceback of its own.
#include <boost/test/unit_test.hpp>

#include <map>

#include "runtime/core/root_cause.h"

using namespace amlflow::runtime;

namespace {

using Lines = std::vector<std::string>;

const Lines kOwnError = {
    "epoch 3",
    "Traceback (most recent call last):",
    "  File \"train.py\", line 12, in <module>",
    "    load(batch)",
    "ValueError: bad batch 17",
};

// What Horovod over gloo prints in a rank whose peer raised (torch 1.13, Horovod 0.28).
const Lines kHorovodVictim = {
    "[0]: Horovod has been shut down. This was caused by an exception on one of the ranks or an attempt to "
    "allreduce, allgather or broadcast a tensor after one of the ranks finished execution.",
    "Traceback (most recent call last):",
    "  File \"train.py\", line 30, in <module>",
    "    hvd.allreduce(t)",
    "horovod.common.exceptions.HorovodInternalError: Horovod has been shut down. This was caused by an exception "
    "on one of the ranks",
};

const Lines kGlooVictim = {
    "Traceback (most recent call last):",
    "  File \"train.py\", line 30, in <module>",
    "    dist.all_reduce(t)",
    "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:598] Connection closed by peer [127.0.0.1]:29500",
};

std::function<Lines(int)> from(std::map<int, Lines> ranks) {
    return [ranks](int rank) {
        auto found = ranks.find(rank);
        return found == ranks.end() ? Lines{} : found->second;
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(root_cause)

BOOST_AUTO_TEST_CASE(a_traceback_names_its_exception_and_whose_it_is) {
    TracebackSeen own = first_traceback(kOwnError);
    BOOST_TEST(own.found);
    BOOST_TEST(own.own);
    BOOST_TEST(own.exception == "ValueError: bad batch 17");
    for (const Lines& victim : {kHorovodVictim, kGlooVictim}) {
        TracebackSeen seen = first_traceback(victim);
        BOOST_TEST(seen.found);
        BOOST_TEST(!seen.own, seen.exception);
        BOOST_TEST(only_a_victim(victim));
    }
    BOOST_TEST(!first_traceback({"epoch 1", "epoch 2"}).found);
    BOOST_TEST(!only_a_victim({"epoch 1", "FATAL: disk quota exceeded"}));
    BOOST_TEST(only_a_victim({"NCCL WARN ncclRemoteError: remote process exiting prematurely"}));
    BOOST_TEST(!only_a_victim(kOwnError));
}

// Remote ranks: no exit order, so the logs alone decide.
BOOST_AUTO_TEST_CASE(the_first_own_traceback_wins_over_lower_ranks_that_were_victims) {
    auto lines = from({{0, kHorovodVictim}, {1, kOwnError}, {2, kGlooVictim}});
    BOOST_TEST(root_cause_rank({0, 1, 2}, lines) == 1);
    // Only victims: the first with a traceback; no traceback at all: the first that wrote.
    BOOST_TEST(root_cause_rank({0, 1, 2}, from({{1, kGlooVictim}, {2, kHorovodVictim}})) == 1);
    BOOST_TEST(root_cause_rank({0, 1}, from({{1, {"exit 3"}}})) == 1);
    BOOST_TEST(root_cause_rank({0, 1}, from({})) == -1);
    // Two ranks with errors of their own: the order given (of failures seen) decides.
    BOOST_TEST(root_cause_rank({2, 1}, from({{1, kOwnError}, {2, kOwnError}})) == 2);
}

// Local ranks: the first to exit is the cause unless its lines show it was a victim.
BOOST_AUTO_TEST_CASE(a_first_exit_that_was_a_victim_gives_way) {
    Failure failure{FailureKind::exit_code, 0, {}, "rank 0 exited with code 1", {}};
    BOOST_TEST(reconsider_root_cause(failure, 2, from({{0, kHorovodVictim}, {1, kOwnError}})));
    BOOST_TEST(failure.rank == 1);
    BOOST_TEST(failure.message ==
               "rank 1 raised the first error (ValueError: bad batch 17); rank 0 exited with code 1 after it");

    // A first exit with an error of its own stands, as does one whose peers have no traceback.
    Failure own{FailureKind::exit_code, 0, {}, "rank 0 exited with code 7", {}};
    BOOST_TEST(!reconsider_root_cause(own, 2, from({{0, {"FATAL: quota"}}, {1, kOwnError}})));
    BOOST_TEST(own.rank == 0);
    Failure alone{FailureKind::exit_code, 0, {}, "rank 0 exited with code 1", {}};
    BOOST_TEST(!reconsider_root_cause(alone, 2, from({{0, kGlooVictim}, {1, {"epoch 3"}}})));
    BOOST_TEST(alone.rank == 0);
    // A timeout or a stop names no rank to reconsider.
    Failure timeout{FailureKind::timeout, -1, {}, "the attempt timed out", {}};
    BOOST_TEST(!reconsider_root_cause(timeout, 2, from({{1, kOwnError}})));
}

BOOST_AUTO_TEST_SUITE_END()
