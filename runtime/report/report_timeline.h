// The timeline of a run report: what ran when, as inline SVG drawn by C++.
#pragma once

#include <string>

#include "runtime/report/report_data.h"

namespace amlflow::runtime {

// Steps, then their attempts, then each attempt's ranks, as horizontal bars over the
// run's time span, coloured by state (class "state-<state>"); failed ranks carry a cross
// at their end (ranks amlflow stopped because another failed are "stopped", no cross), cached steps a diamond. Attempt bars have class "timeline-bar", rank bars
// "timeline-rank", step bars "timeline-step"; each has a <title> tooltip with its times,
// exit code or signal.
std::string timeline_svg(const ReportData& data);

}  // namespace amlflow::runtime
