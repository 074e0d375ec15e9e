#include "runtime/report/report_data.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace amlflow::runtime {

using nlohmann::json;

namespace {

bool read_attempts(RunStore& store, const std::string& run, ReportStep& step) {
    auto attempts = store.attempts_of(run, step.record.name);
    if (!attempts) return false;
    for (AttemptRecord& record : *attempts) {
        ReportAttempt attempt;
        if (!record.failure_json.empty()) {
            attempt.failure = json::parse(record.failure_json, nullptr, false);
            // A failure report that is not an object is shown as missing, not guessed at.
            if (!attempt.failure.is_object()) attempt.failure = nullptr;
        }
        auto ranks = store.ranks_of(run, step.record.name, record.number);
        if (!ranks) return false;
        attempt.ranks = std::move(*ranks);
        attempt.record = std::move(record);
        step.attempts.push_back(std::move(attempt));
    }
    return true;
}

void widen(int64_t ms, int64_t& low, int64_t& high) {
    if (ms <= 0) return;
    if (low == 0 || ms < low) low = ms;
    if (ms > high) high = ms;
}

json parse_result(const std::string& text) {
    if (text.empty()) return nullptr;
    json result = json::parse(text, nullptr, false);
    return result.is_object() ? result : json(nullptr);
}

// A cached step's metrics, or a cached sweep's trials with theirs, from the run that
// computed them (one hop further when that run had them from the cache too). What that
// run no longer has is left out: the report of this run must not fail over it.
void borrow_metrics(RunStore& store, const StepRecord& origin, ReportStep& into) {
    std::string run = origin.state == StepState::Cached && !origin.cached_from.empty() ? origin.cached_from
                                                                                        : origin.run_id;
    auto metrics = store.metrics_of(run, origin.name);
    if (!metrics || metrics->empty()) return;
    into.metrics = std::move(*metrics);
    into.metrics_from = run;
    if (auto found = store.find_run(run)) into.metrics_start_ms = found->created_ms;
}

void borrow_cached_metrics(RunStore& store, ReportData& data, ReportStep& step) {
    if (step.record.state != StepState::Cached || step.record.cached_from.empty()) return;
    auto origin = store.steps_of(step.record.cached_from);
    if (!origin) return;
    for (const StepRecord& record : *origin) {
        if (record.name == step.record.name && step.metrics.empty()) borrow_metrics(store, record, step);
        if (step.record.kind != "sweep" || sweep_of(record) != step.record.name) continue;
        ReportStep trial;
        trial.record = record;
        trial.sweep = step.record.name;
        borrow_metrics(store, record, trial);
        if (!trial.metrics.empty()) data.cached_trials.push_back(std::move(trial));
    }
}

}  // namespace

std::string sweep_of(const StepRecord& record) {
    size_t open = record.name.rfind('[');
    if (record.kind != "trial" || open == std::string::npos || open == 0 || record.name.back() != ']') return "";
    return record.name.substr(0, open);
}

std::vector<const ReportStep*> ordered_steps(const ReportData& data) {
    std::map<std::string, std::vector<const ReportStep*>> trials;
    std::set<std::string> sweeps;
    for (const ReportStep& step : data.steps) {
        if (step.record.kind == "sweep") sweeps.insert(step.record.name);
    }
    for (const ReportStep& step : data.steps) {
        if (sweeps.count(step.sweep)) trials[step.sweep].push_back(&step);
    }
    std::vector<const ReportStep*> out;
    for (const ReportStep& step : data.steps) {
        if (sweeps.count(step.sweep)) continue;  // listed after its sweep
        out.push_back(&step);
        if (step.record.kind != "sweep") continue;
        for (const ReportStep* trial : trials[step.record.name]) out.push_back(trial);
    }
    return out;
}

std::optional<ReportData> gather_report(RunStore& store, const std::string& id_or_prefix, std::string* error) {
    auto fail = [&]() -> std::optional<ReportData> {
        if (error) *error = store.last_error();
        return std::nullopt;
    };
    auto run = store.find_run(id_or_prefix);
    if (!run) return fail();
    ReportData data;
    data.run = std::move(*run);
    data.plan = json::parse(data.run.plan_json, nullptr, false);
    if (!data.plan.is_object()) data.plan = nullptr;
    auto steps = store.steps_of(data.run.id);
    if (!steps) return fail();
    for (StepRecord& record : *steps) {
        ReportStep step;
        step.record = std::move(record);
        step.result = parse_result(step.record.result_json);
        step.sweep = sweep_of(step.record);
        if (!read_attempts(store, data.run.id, step)) return fail();
        auto metrics = store.metrics_of(data.run.id, step.record.name);
        if (!metrics) return fail();
        step.metrics = std::move(*metrics);
        data.steps.push_back(std::move(step));
    }
    for (ReportStep& step : data.steps) borrow_cached_metrics(store, data, step);
    if (!gather_models(store, data)) return fail();
    data.remote_jobs = read_remote_jobs(store.run_folder(data.run.id));
    compute_time_span(data);
    return data;
}

bool gather_models(RunStore& store, ReportData& data) {
    auto models = store.list_models();
    if (!models) return false;
    for (ModelRecord& model : *models) {
        if (model.run_id == data.run.id) data.models.push_back(std::move(model));
    }
    return true;
}

void compute_time_span(ReportData& data) {
    int64_t low = 0, high = 0;
    widen(data.run.created_ms, low, high);
    widen(data.run.finished_ms, low, high);
    for (const ReportStep& step : data.steps) {
        widen(step.record.started_ms, low, high);
        widen(step.record.finished_ms, low, high);
        for (const ReportAttempt& attempt : step.attempts) {
            widen(attempt.record.started_ms, low, high);
            widen(attempt.record.finished_ms, low, high);
            for (const RankRecord& rank : attempt.ranks) {
                widen(rank.started_ms, low, high);
                widen(rank.finished_ms, low, high);
            }
        }
        for (const MetricRecord& metric : step.metrics) widen(metric.time_ms, low, high);
    }
    data.start_ms = data.run.created_ms > 0 ? data.run.created_ms : low;
    data.end_ms = std::max(high, data.start_ms);
}

namespace {

// One line of a chart: a step's (or trial's) metric for one attempt and rank.
struct Series {
    const ReportStep* step = nullptr;
    int trial = -1;  // index among the sweep's trials; -1 on a step's own chart
    int attempt = 0, rank = 0;
    std::vector<const MetricRecord*> points;
};

json point(const MetricRecord& metric, const std::string& x, double x_value, int64_t start_ms) {
    double at = x == "step" ? static_cast<double>(metric.step_index)
                : x == "trial" ? x_value
                               : static_cast<double>(metric.time_ms - start_ms) / 1000.0;
    json y = std::isfinite(metric.value) ? json(metric.value) : json(nullptr);
    return json::array({at, y});
}

// Keeps every k-th point, plus the last one and every non-finite one (a divergence is
// the point someone opens the chart for).
json thin(const Series& series, const std::string& x, int64_t start_ms, size_t max_points) {
    const auto& points = series.points;
    json out = json::array();
    size_t stride = points.size() > max_points && max_points > 0 ? (points.size() + max_points - 1) / max_points : 1;
    for (size_t i = 0; i < points.size(); ++i) {
        bool keep = i % stride == 0 || i + 1 == points.size() || !std::isfinite(points[i]->value);
        if (keep) out.push_back(point(*points[i], x, series.trial, start_ms));
    }
    return out;
}

std::string x_kind(const std::vector<Series>& series, bool by_trial) {
    bool by_step = true, single = true;
    for (const Series& line : series) {
        single = single && line.points.size() <= 1;
        for (const MetricRecord* metric : line.points) by_step = by_step && metric->step_index >= 0;
    }
    if (by_trial && single) return "trial";  // one value per trial: compare them side by side
    return by_step ? "step" : "time";
}

json chart_json(const std::string& step, const std::string& name, const std::vector<Series>& series,
                bool by_trial, const ReportData& data, size_t max_points) {
    std::string x = x_kind(series, by_trial);
    json chart = {{"step", step}, {"metric", name}, {"x", x}, {"series", json::array()}};
    for (const Series& line : series) {
        size_t bad = std::count_if(line.points.begin(), line.points.end(),
                                   [](const MetricRecord* metric) { return !std::isfinite(metric->value); });
        int64_t start = line.step->metrics_start_ms > 0 ? line.step->metrics_start_ms : data.start_ms;
        json item = {{"attempt", line.attempt},
                     {"rank", line.rank},
                     {"nonfinite", bad},
                     {"points", thin(line, x, start, max_points)}};
        if (by_trial) item["trial"] = line.step->record.name;
        if (!line.step->metrics_from.empty()) item["from"] = line.step->metrics_from;
        chart["series"].push_back(std::move(item));
    }
    return chart;
}

// Charts for `steps`, one per metric name in the order first recorded: a step's own
// charts when there is one step, a sweep's shared charts for its trials.
void add_charts(const std::string& title, const std::vector<const ReportStep*>& steps, bool by_trial,
                const ReportData& data, size_t max_points, json& charts) {
    std::vector<std::string> names;
    std::map<std::string, std::map<std::tuple<int, int, int>, Series>> by_name;
    for (size_t i = 0; i < steps.size(); ++i) {
        for (const MetricRecord& metric : steps[i]->metrics) {
            if (!by_name.count(metric.name)) names.push_back(metric.name);
            int trial = by_trial ? static_cast<int>(i) : -1;
            Series& line = by_name[metric.name][{trial, metric.attempt, metric.rank}];
            line.step = steps[i];
            line.trial = trial;
            line.attempt = metric.attempt;
            line.rank = metric.rank;
            line.points.push_back(&metric);
        }
    }
    for (const std::string& name : names) {
        std::vector<Series> series;
        for (auto& entry : by_name[name]) series.push_back(std::move(entry.second));
        json chart = chart_json(title, name, series, by_trial, data, max_points);
        if (by_trial) {
            chart["sweep"] = title;
            chart["trials"] = json::array();
            for (const ReportStep* step : steps) chart["trials"].push_back(step->record.name);
        }
        charts.push_back(std::move(chart));
    }
}

}  // namespace

json metrics_json(const ReportData& data, size_t max_points) {
    std::vector<const ReportStep*> all = ordered_steps(data);
    for (const ReportStep& trial : data.cached_trials) all.push_back(&trial);
    std::map<std::string, std::vector<const ReportStep*>> trials;
    for (const ReportStep* step : all) {
        if (!step->sweep.empty()) trials[step->sweep].push_back(step);
    }
    json charts = json::array();
    std::set<std::string> drawn;
    for (const ReportStep* step : all) {
        if (step->sweep.empty()) {
            add_charts(step->record.name, {step}, false, data, max_points, charts);
        } else if (drawn.insert(step->sweep).second) {
            add_charts(step->sweep, trials[step->sweep], true, data, max_points, charts);
        }
    }
    return charts;
}

}  // namespace amlflow::runtime
