// How long something took, as a person reads it, and how long each state of a job on
// another place lasted ("Queued 1.2 s, Preparing 3.0 s, Running 41 s"): one wording for the
// Azure ML backend's messages, `runs show` and the report.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace amlflow::runtime {

// "0.4 s", "12 s", "3 min 5 s".
std::string seconds_text(double seconds);

// Each state with its seconds_text, joined by ", ".
std::string state_times_text(const std::vector<std::pair<std::string, double>>& states);

}  // namespace amlflow::runtime
