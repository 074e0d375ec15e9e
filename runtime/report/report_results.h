// What each step of a run produced, as the run report shows it: read from the step's
// result_json (a registered model's name and version, a download's destination, an
// exported ONNX file with its checks, a sweep's best trial and objective) rather than the
// outputs folder every step has, and where a cached step's result came from.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/report/report_data.h"

namespace amlflow::runtime {

// The steps table's "result" cell for `step` (HTML, every text escaped).
std::string step_result_html(const ReportStep& step);

// Whether `step` is the best trial of its sweep.
bool is_best_trial(const ReportData& data, const ReportStep& step);

// A line under the run's header saying which steps came from the cache and from which
// runs, so a reader knows whose results the page shows; "" when none did.
std::string cache_note_html(const ReportData& data);

// A section per sweep: its objective, best trial, and a row per trial with its
// parameters and objective value; "" when the run has no sweep with a recorded result.
std::string sweeps_html(const ReportData& data);

// For the charts' legends: {sweep: {"best": name, "trials": {name: {"params": "lr=0.01",
// "state": "stopped"}}}}.
nlohmann::json sweeps_json(const ReportData& data);

// "812 B", "4.2 MB": decimal units, as ls -h --si and the registry's listing.
std::string size_text(int64_t bytes);

// A number as people read it: up to 4 significant digits ("0.001499", "0.7031").
std::string short_number(const nlohmann::json& value);

}  // namespace amlflow::runtime
