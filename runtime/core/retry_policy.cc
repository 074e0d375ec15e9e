#include "runtime/core/retry_policy.h"

#include <csignal>
#include <cstring>

namespace amlflow::runtime {

namespace {

const std::pair<const char*, int> kSignals[] = {
    {"SIGHUP", SIGHUP}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT}, {"SIGILL", SIGILL}, {"SIGTRAP", SIGTRAP},
    {"SIGABRT", SIGABRT}, {"SIGBUS", SIGBUS}, {"SIGFPE", SIGFPE}, {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1},
    {"SIGSEGV", SIGSEGV}, {"SIGUSR2", SIGUSR2}, {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM}, {"SIGTERM", SIGTERM},
    {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ}, {"SIGSYS", SIGSYS}};

template <typename T>
std::vector<T> list_of(const nlohmann::json& block, const char* key) {
    std::vector<T> out;
    auto found = block.find(key);
    if (found == block.end() || !found->is_array()) return out;
    for (const auto& item : *found) {
        if constexpr (std::is_same_v<T, int>) {
            if (item.is_number_integer()) out.push_back(item.get<int>());
            else if (item.is_string()) out.push_back(signal_number(item.get<std::string>()));
        } else {
            if (item.is_string()) out.push_back(item.get<std::string>());
        }
    }
    return out;
}

const std::string* first_match(const std::vector<std::string>& patterns, const std::vector<std::string>& lines) {
    for (const std::string& pattern : patterns) {
        for (const std::string& line : lines) {
            if (line.find(pattern) != std::string::npos) return &pattern;
        }
    }
    return nullptr;
}

bool contains(const std::vector<int>& list, int value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

int signal_number(const std::string& name) {
    std::string full = name.rfind("SIG", 0) == 0 ? name : "SIG" + name;
    for (const auto& [text, number] : kSignals) {
        if (full == text) return number;
    }
    return 0;
}

std::string signal_name(int number) {
    for (const auto& [text, value] : kSignals) {
        if (value == number) return text;
    }
    return "signal " + std::to_string(number);
}

RetryPolicy RetryPolicy::from_spec(const nlohmann::json& spec) {
    RetryPolicy policy;
    policy.restarts_ = spec.value("restarts", 0);
    auto backoff = spec.find("backoff");
    if (backoff != spec.end() && backoff->is_object()) policy.backoff_ms_ = backoff->value("$duration_ms", int64_t{1000});
    nlohmann::json retry = spec.value("retry", nlohmann::json::object());
    policy.on_exit_ = list_of<int>(retry, "on_exit");
    policy.never_on_exit_ = list_of<int>(retry, "never_on_exit");
    policy.on_signal_ = list_of<int>(retry, "on_signal");
    policy.on_log_ = list_of<std::string>(retry, "on_log");
    policy.never_on_log_ = list_of<std::string>(retry, "never_on_log");
    return policy;
}

RetryDecision RetryPolicy::decide(const FailureFacts& failure, int restarts_used) const {
    RetryDecision decision;
    if (failure.reason == "canceled" || failure.reason == "setup") {
        decision.why = failure.reason == "canceled" ? "the run was canceled" : "the job could not be started";
        return decision;
    }
    if (restarts_used >= restarts_) {
        decision.why = restarts_ == 0 ? "the job allows no restarts"
                                      : "restart budget spent (" + std::to_string(restarts_used) + " of " +
                                            std::to_string(restarts_) + ")";
        return decision;
    }
    if (const std::string* pattern = first_match(never_on_log_, failure.log_lines)) {
        decision.why = "never_on_log matched \"" + *pattern + "\"";
        return decision;
    }
    if (failure.reason == "exit" && contains(never_on_exit_, failure.exit_code)) {
        decision.why = "never_on_exit lists exit code " + std::to_string(failure.exit_code);
        return decision;
    }
    bool selective = !on_exit_.empty() || !on_signal_.empty() || !on_log_.empty();
    if (selective) {
        bool matched = (failure.reason == "exit" && contains(on_exit_, failure.exit_code)) ||
                       (failure.reason == "signal" && contains(on_signal_, failure.signal)) ||
                       first_match(on_log_, failure.log_lines) != nullptr;
        if (!matched) {
            decision.why = "the failure matches none of on_exit, on_signal and on_log";
            return decision;
        }
    }
    decision.retry = true;
    // Exponential backoff, capped so a long budget never waits for hours.
    int64_t delay = backoff_ms_;
    for (int i = 0; i < restarts_used && delay < 300000; ++i) delay *= 2;
    decision.delay_ms = std::min<int64_t>(delay, 300000);
    decision.why = "restart " + std::to_string(restarts_used + 1) + " of " + std::to_string(restarts_);
    return decision;
}

}  // namespace amlflow::runtime
