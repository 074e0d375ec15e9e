// Which failures are retried, and after how long: the job's `restarts`, `backoff` and
// `retry { ... }` fields (DESIGN §4). Pure logic, so it is tested without processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

// Why an attempt failed, as the supervisor saw it.
struct FailureFacts {
    std::string reason;                  // exit | signal | timeout | hang | lost | canceled | setup
    int exit_code = -1;                  // for exit
    int signal = 0;                      // for signal
    std::vector<std::string> log_lines;  // the last lines of the failed ranks' logs
};

struct RetryDecision {
    bool retry = false;
    int64_t delay_ms = 0;
    std::string why;  // "never_on_log matched 'CUDA out of memory'", "restart budget spent (2 of 2)"
};

class RetryPolicy {
public:
    // From a job's plan spec: restarts, backoff, retry { on_exit, on_signal, on_log,
    // never_on_exit, never_on_log }.
    static RetryPolicy from_spec(const nlohmann::json& spec);

    // `restarts_used` restarts have already been made (0 after the first attempt failed).
    RetryDecision decide(const FailureFacts& failure, int restarts_used) const;
    int max_restarts() const { return restarts_; }

private:
    int restarts_ = 0;
    int64_t backoff_ms_ = 1000;
    std::vector<int> on_exit_, never_on_exit_, on_signal_;
    std::vector<std::string> on_log_, never_on_log_;
};

// SIGKILL -> 9; "KILL" works too. 0 when unknown.
int signal_number(const std::string& name);
std::string signal_name(int number);

}  // namespace amlflow::runtime
