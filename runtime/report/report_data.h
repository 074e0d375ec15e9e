// Everything `amlflow report` shows about one run, read from the run store in one pass:
// the run, its plan, its steps with their attempts and ranks, every metric, and the
// model versions it registered. The HTML renderer works from this struct only, so it never
// touches SQLite, and a test can build one by hand.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/store/remote_jobs.h"
#include "runtime/store/run_store.h"

namespace amlflow::runtime {

struct ReportAttempt {
    AttemptRecord record;
    std::vector<RankRecord> ranks;
    nlohmann::json failure;  // failure_json parsed; null when none or unreadable
};

struct ReportStep {
    StepRecord record;
    std::vector<ReportAttempt> attempts;
    std::vector<MetricRecord> metrics;  // in the order they were recorded
    nlohmann::json result;              // result_json parsed; null when none or unreadable
    std::string sweep;                  // for a trial ("tune[3]"), its sweep ("tune")
    // Set when the metrics were read from another run: a cached step's come from the run
    // that computed it, and x in seconds counts from that run's start.
    std::string metrics_from;
    int64_t metrics_start_ms = 0;
};

struct ReportData {
    RunRecord run;
    nlohmann::json plan;  // plan_json parsed; null when it cannot be read
    std::vector<ReportStep> steps;
    std::vector<ModelRecord> models;  // registered by this run, by name then version
    std::vector<RemoteJob> remote_jobs;  // its Azure ML jobs, each with the states it walked and their times
    // The trials of a sweep this run took from the cache, read from the run that ran them,
    // for their metrics only: they are not steps of this run.
    std::vector<ReportStep> cached_trials;
    // The span the timeline covers: the run's start to its end, or to the latest time
    // any record carries while the run is still going.
    int64_t start_ms = 0, end_ms = 0;
};

// Reads run `id_or_prefix` and all its records. nullopt with *error (one lowercase
// sentence) when the run is not there or the store cannot be read.
std::optional<ReportData> gather_report(RunStore& store, const std::string& id_or_prefix, std::string* error);

// Fills data.models with the versions the run's `register model` steps created (a
// registration that found its content already registered is the earlier run's version).
bool gather_models(RunStore& store, ReportData& data);

// The steps in the order the page lists them: the store's order, with each sweep's
// trials right after their sweep (a trial whose sweep is not there stays where it is).
std::vector<const ReportStep*> ordered_steps(const ReportData& data);

// The sweep a trial belongs to, from its name ("tune[3]" -> "tune"); "" for other steps.
std::string sweep_of(const StepRecord& record);

// Sets start_ms and end_ms from the records already in `data`.
void compute_time_span(ReportData& data);

// The metrics as the page's charts read them: one entry per (step, metric name), one
// series per (attempt, rank), each point [x, y] with y null for a NaN or infinity.
// x is the script's step_index when every point of the chart has one, else seconds
// since the run started. A series longer than `max_points` is thinned evenly (NaNs kept).
// A sweep's trials share one chart per metric ("sweep" set, a series per trial, attempt
// and rank, each with its "trial" name, "best" on the sweep's best trial); when every
// trial logged the metric once, x is the trial's index ("trial") instead.
nlohmann::json metrics_json(const ReportData& data, size_t max_points = 4000);

}  // namespace amlflow::runtime
