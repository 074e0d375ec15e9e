// The plan graph of a run report, written as inline SVG by C++ so it shows even where
// scripts are off, and the small helpers the report's drawings share. Every text from the
// store is escaped; every mark carries a <title> for its tooltip.
#pragma once

#include <string>

#include "runtime/report/report_data.h"

namespace amlflow::runtime {

// The plan's nodes (sources, environments, steps) in layers by longest path from the
// nodes nothing feeds, left to right, with its edges as arrows; step boxes are coloured
// by the state the run store holds for them. A short note instead when the plan cannot
// be read or is too large to draw usefully.
std::string plan_graph_svg(const ReportData& data);

// A coordinate for an SVG attribute: one decimal, no locale.
std::string svg_number(double value);

// The root-cause rank of a failed attempt, from its failure report; -1 when none.
int root_rank(const ReportAttempt& attempt);

// A rank's state, from its exit: "succeeded", "failed", "running", or "stopped" for a rank
// that amlflow stopped (SIGTERM or SIGKILL) because another rank failed or the run was
// interrupted; the attempt's state when the rank has no exit of its own.
std::string rank_state(const RankRecord& rank, const ReportAttempt& attempt);

}  // namespace amlflow::runtime
