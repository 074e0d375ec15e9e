#include "runtime/core/group_outcome.h"

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

}  // namespace amlflow::runtime
