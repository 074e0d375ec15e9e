#include "runtime/report_data.h"

#include <algorithm>
#include <cmath>
#include <map>

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

}  // namespace

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
        if (!read_attempts(store, data.run.id, step)) return fail();
        auto metrics = store.metrics_of(data.run.id, step.record.name);
        if (!metrics) return fail();
        step.metrics = std::move(*metrics);
        data.steps.push_back(std::move(step));
    }
    if (!gather_models(store, data)) return fail();
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

using SeriesKey = std::pair<int, int>;  // attempt, rank

json point(const MetricRecord& metric, bool by_step, int64_t start_ms) {
    double x = by_step ? static_cast<double>(metric.step_index)
                       : static_cast<double>(metric.time_ms - start_ms) / 1000.0;
    json y = std::isfinite(metric.value) ? json(metric.value) : json(nullptr);
    return json::array({x, y});
}

// Keeps every k-th point, plus the last one and every non-finite one (a divergence is
// the point someone opens the chart for).
json thin(const std::vector<const MetricRecord*>& points, bool by_step, int64_t start_ms, size_t max_points) {
    json out = json::array();
    size_t stride = points.size() > max_points && max_points > 0 ? (points.size() + max_points - 1) / max_points : 1;
    for (size_t i = 0; i < points.size(); ++i) {
        bool keep = i % stride == 0 || i + 1 == points.size() || !std::isfinite(points[i]->value);
        if (keep) out.push_back(point(*points[i], by_step, start_ms));
    }
    return out;
}

json chart_json(const std::string& step, const std::string& name,
                const std::map<SeriesKey, std::vector<const MetricRecord*>>& series, int64_t start_ms,
                size_t max_points) {
    bool by_step = true;
    for (const auto& entry : series) {
        for (const MetricRecord* metric : entry.second) by_step = by_step && metric->step_index >= 0;
    }
    json chart = {{"step", step}, {"metric", name}, {"x", by_step ? "step" : "time"}, {"series", json::array()}};
    for (const auto& [key, points] : series) {
        size_t bad = std::count_if(points.begin(), points.end(),
                                   [](const MetricRecord* metric) { return !std::isfinite(metric->value); });
        chart["series"].push_back({{"attempt", key.first},
                                   {"rank", key.second},
                                   {"nonfinite", bad},
                                   {"points", thin(points, by_step, start_ms, max_points)}});
    }
    return chart;
}

}  // namespace

json metrics_json(const ReportData& data, size_t max_points) {
    json charts = json::array();
    for (const ReportStep& step : data.steps) {
        // Metric names in the order first recorded, so charts follow the script's logging.
        std::vector<std::string> names;
        std::map<std::string, std::map<SeriesKey, std::vector<const MetricRecord*>>> by_name;
        for (const MetricRecord& metric : step.metrics) {
            auto found = by_name.find(metric.name);
            if (found == by_name.end()) names.push_back(metric.name);
            by_name[metric.name][{metric.attempt, metric.rank}].push_back(&metric);
        }
        for (const std::string& name : names) {
            charts.push_back(chart_json(step.record.name, name, by_name[name], data.start_ms, max_points));
        }
    }
    return charts;
}

}  // namespace amlflow::runtime
