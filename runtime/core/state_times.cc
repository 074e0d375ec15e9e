#include "runtime/core/state_times.h"

#include <cstdio>

namespace amlflow::runtime {

std::string seconds_text(double seconds) {
    char text[64];
    if (seconds < 10) {
        std::snprintf(text, sizeof text, "%.1f s", seconds);
    } else if (seconds < 120) {
        std::snprintf(text, sizeof text, "%.0f s", seconds);
    } else {
        std::snprintf(text, sizeof text, "%d min %d s", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
    }
    return text;
}

std::string state_times_text(const std::vector<std::pair<std::string, double>>& states) {
    std::string out;
    for (const auto& [state, seconds] : states) out += (out.empty() ? "" : ", ") + state + " " + seconds_text(seconds);
    return out;
}

}  // namespace amlflow::runtime
