#include <boost/test/unit_test.hpp>

#include "runtime/core/retry_policy.h"

using namespace amlflow::runtime;
using nlohmann::json;

namespace {

FailureFacts exit_failure(int code, std::vector<std::string> lines = {}) {
    return FailureFacts{"exit", code, 0, std::move(lines)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retry_policy)

BOOST_AUTO_TEST_CASE(the_budget_is_counted_across_the_job) {
    auto policy = RetryPolicy::from_spec(json{{"restarts", 2}});
    BOOST_TEST(policy.decide(exit_failure(1), 0).retry);
    BOOST_TEST(policy.decide(exit_failure(1), 1).retry);
    RetryDecision spent = policy.decide(exit_failure(1), 2);
    BOOST_TEST(!spent.retry);
    BOOST_TEST(spent.why == "restart budget spent (2 of 2)");
}

BOOST_AUTO_TEST_CASE(backoff_doubles_from_the_declared_duration) {
    auto policy = RetryPolicy::from_spec(json{{"restarts", 5}, {"backoff", {{"$duration_ms", 250}}}});
    BOOST_TEST(policy.decide(exit_failure(1), 0).delay_ms == 250);
    BOOST_TEST(policy.decide(exit_failure(1), 1).delay_ms == 500);
    BOOST_TEST(policy.decide(exit_failure(1), 3).delay_ms == 2000);
}

BOOST_AUTO_TEST_CASE(never_on_log_wins_over_everything) {
    auto policy = RetryPolicy::from_spec(
        json{{"restarts", 3}, {"retry", {{"on_exit", {1}}, {"never_on_log", {"CUDA out of memory"}}}}});
    RetryDecision oom = policy.decide(exit_failure(1, {"RuntimeError: CUDA out of memory. Tried to allocate"}), 0);
    BOOST_TEST(!oom.retry);
    BOOST_TEST(oom.why == "never_on_log matched \"CUDA out of memory\"");
}

BOOST_AUTO_TEST_CASE(on_lists_make_retries_selective) {
    auto policy = RetryPolicy::from_spec(json{{"restarts", 3}, {"retry", {{"on_exit", {137}}, {"on_signal", {"SIGKILL"}}}}});
    BOOST_TEST(policy.decide(exit_failure(137), 0).retry);
    BOOST_TEST(!policy.decide(exit_failure(1), 0).retry);
    BOOST_TEST(policy.decide(FailureFacts{"signal", -1, 9, {}}, 0).retry);
    BOOST_TEST(!policy.decide(FailureFacts{"signal", -1, 11, {}}, 0).retry);
    BOOST_TEST(!policy.decide(FailureFacts{"hang", -1, 0, {}}, 0).retry);
}

BOOST_AUTO_TEST_CASE(cancel_is_never_retried) {
    auto policy = RetryPolicy::from_spec(json{{"restarts", 3}});
    BOOST_TEST(!policy.decide(FailureFacts{"canceled", -1, 0, {}}, 0).retry);
}

BOOST_AUTO_TEST_CASE(signal_names_round_trip) {
    BOOST_TEST(signal_number("SIGSEGV") == 11);
    BOOST_TEST(signal_number("KILL") == 9);
    BOOST_TEST(signal_name(15) == "SIGTERM");
}

BOOST_AUTO_TEST_SUITE_END()
