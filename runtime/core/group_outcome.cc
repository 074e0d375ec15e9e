#include "runtime/core/group_outcome.h"

#include <cstdio>

namespace amlflow::runtime {

const char* to_string(FailureKind kind) {
    switch (kind) {
        case FailureKind::none: return "none";
        case FailureKind::exit_code: return "exit code";
        case FailureKind::signal: return "signal";
        case FailureKind::timeout: return "timeout";
        case FailureKind::hang: return "hang";
        case FailureKind::spawn: return "spawn";
        case FailureKind::stopped: return "stopped";
        case FailureKind::lost: return "lost";
    }
    return "unknown";
}

std::string rank_name(int rank) { return "rank " + std::to_string(rank); }

std::string seconds(EventLoop::Clock::duration duration) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", std::chrono::duration<double>(duration).count());
    return text;
}

}  // namespace amlflow::runtime
