#include "runtime/exec/sweep_plan.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <random>

#include "compiler/sha256.h"
#include "runtime/core/sweep_trial.h"

namespace amlflow::runtime {

using nlohmann::json;

namespace {

// One draw of a search-space function (compiler/builtins.cc writes them).
json draw(const json& space, std::mt19937_64& random) {
    std::string kind = space.value("$kind", "");
    if (kind == "choice") {
        const json& values = space["values"];
        std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
        return values[pick(random)];
    }
    if (kind == "randint") {
        std::uniform_int_distribution<int64_t> pick(0, space["upper"].get<int64_t>() - 1);
        return pick(random);
    }
    double value = 0;
    if (kind == "normal" || kind == "lognormal") {
        std::normal_distribution<double> pick(space["mu"].get<double>(), space["sigma"].get<double>());
        value = pick(random);
        if (kind == "lognormal") value = std::exp(value);
    } else {
        double low = space["low"].get<double>(), high = space["high"].get<double>();
        bool log = kind == "loguniform" || kind == "qloguniform";
        std::uniform_real_distribution<double> pick(log ? std::log(low) : low, log ? std::log(high) : high);
        value = pick(random);
        if (log) value = std::exp(value);
    }
    if (space.contains("q")) {
        double q = space["q"].get<double>();
        value = std::round(value / q) * q;
    }
    return value;
}

// A value as the template parameter's type wants it: ints stay ints.
json typed(const json& value, const std::string& type) {
    if (type == "int" && value.is_number_float()) return static_cast<int64_t>(std::llround(value.get<double>()));
    return value;
}

// The first `limit` points of the grid, in order (the last parameter varying fastest),
// each computed from its index: a grid of many large choices is never listed whole.
std::optional<std::vector<json>> grid_points(const json& space, size_t limit, std::string* error) {
    struct Axis {
        std::string name;
        const json* values = nullptr;  // choice; null for randint (value = index)
        uint64_t size = 0;
    };
    std::vector<Axis> axes;
    uint64_t total = 1;
    for (auto it = space.begin(); it != space.end(); ++it) {
        std::string kind = it.value().value("$kind", "");
        Axis axis{it.key()};
        if (kind == "choice") {
            axis.values = &it.value()["values"];
            axis.size = axis.values->size();
        } else if (kind == "randint") {
            axis.size = static_cast<uint64_t>(std::max<int64_t>(1, it.value()["upper"].get<int64_t>()));
        } else {
            *error = "grid sampling needs a finite space, and '" + it.key() + "' is drawn from " + kind +
                     "(...): use choice(...) or random sampling";
            return std::nullopt;
        }
        total = axis.size != 0 && total > UINT64_MAX / axis.size ? UINT64_MAX : total * axis.size;
        axes.push_back(axis);
    }
    std::vector<json> points;
    for (uint64_t index = 0; index < total && points.size() < limit; ++index) {
        json point = json::object();
        uint64_t rest = index;
        for (auto axis = axes.rbegin(); axis != axes.rend(); ++axis) {
            uint64_t digit = rest % axis->size;
            rest /= axis->size;
            point[axis->name] = axis->values ? (*axis->values)[digit] : json(static_cast<int64_t>(digit));
        }
        points.push_back(std::move(point));
    }
    return points;
}

}  // namespace

std::optional<std::vector<Trial>> draw_trials(const StepPlan& sweep, std::string* error) {
    const json& spec = sweep.spec;
    const json& space = spec["space"];
    std::string sampling = spec.value("sampling", "random");
    std::vector<json> points;
    if (sampling == "grid") {
        size_t limit = spec.contains("trials") && spec["trials"].is_number_integer() ? spec["trials"].get<size_t>()
                                                                                      : 100000;
        auto grid = grid_points(space, limit, error);
        if (!grid) return std::nullopt;
        points = std::move(*grid);
    } else if (sampling == "bayesian") {
        // Those that need no earlier result; the executor draws the others as results come.
        TpeSampler sampler = bayesian_sampler(sweep);
        int count = spec.value("trials", 10);
        for (int i = 0; i < count && tpe_history_bound(i, spec.value("parallel", 1), sampler.settings().startup) == 0;
             ++i) {
            points.push_back(sampler.draw(i, {}));
        }
    } else {
        std::string seed_text = compiler::sha256_hex(sweep.hash);
        std::seed_seq seed(seed_text.begin(), seed_text.end());
        std::mt19937_64 random(seed);
        int count = spec.value("trials", 10);
        for (int i = 0; i < count; ++i) {
            json point = json::object();
            for (auto it = space.begin(); it != space.end(); ++it) point[it.key()] = draw(it.value(), random);
            points.push_back(point);
        }
    }
    std::vector<Trial> trials;
    for (size_t i = 0; i < points.size(); ++i) trials.push_back(make_trial(sweep, static_cast<int>(i), points[i]));
    return trials;
}

Trial make_trial(const StepPlan& sweep, int index, const json& point) {
    Trial trial;
    trial.index = index;
    trial.name = sweep.name + "[" + std::to_string(index) + "]";
    trial.params = json::object();
    for (const json& param : sweep.spec["$template"]["params"]) {
        std::string name = param["name"].get<std::string>();
        std::string type = param.value("type", "");
        if (point.contains(name)) {
            trial.params[name] = typed(point[name], type);
        } else if (param.contains("default")) {
            trial.params[name] = param["default"];
        }
    }
    return trial;
}

TpeSampler bayesian_sampler(const StepPlan& sweep) {
    Objective objective = objective_of(sweep);
    return TpeSampler(sweep.spec["space"], objective.maximize, compiler::sha256_hex(sweep.hash),
                      TpeSettings{});
}

StepPlan trial_step(const StepPlan& sweep, const Trial& trial) {
    StepPlan step = trial_job_step(sweep, trial.params);
    step.name = trial.name;
    step.id = "step:" + trial.name;
    // The sweep's hash covers the template, its environment and source; the values
    // complete what decides this trial's result.
    step.hash = compiler::sha256_hex(sweep.hash + "\n" + trial.params.dump());
    return step;
}

Objective objective_of(const StepPlan& sweep) {
    Objective objective;
    const json& spec = sweep.spec.value("objective", json::object());
    objective.metric = spec.value("metric", "");
    objective.maximize = spec.value("$kind", "maximize") != "minimize";
    return objective;
}

EarlyStop::EarlyStop(const StepPlan& sweep) : objective_(objective_of(sweep)) {
    const json& policy = sweep.spec.value("early_stop", json::object());
    if (policy.is_object()) {
        kind_ = policy.value("$kind", "none");
        slack_ = policy.value("slack", 0.0);
        interval_ = std::max(1, policy.value("interval", 1));
        delay_ = policy.value("delay", 0);
        percent_ = policy.value("percent", 0);
    } else if (policy.is_string()) {
        kind_ = policy.get<std::string>();
    }
}

bool EarlyStop::should_stop(const std::string& name, const std::map<std::string, Series>& series,
                            std::string* why) const {
    auto mine = series.find(name);
    if (!enabled() || mine == series.end()) return false;
    size_t reported = mine->second.size();
    // Evaluated at each interval boundary after the delay, on the latest value.
    if (reported == 0 || static_cast<int>(reported) <= delay_ || (reported - delay_) % interval_ != 0) return false;
    double current = mine->second.back().second;
    if (std::isnan(current)) {
        *why = "its " + objective_.metric + " is NaN";
        return true;
    }
    // The others' values at the same count of reports.
    std::vector<double> best_of_others, mean_of_others;
    for (const auto& [other, values] : series) {
        if (other == name || values.size() < reported) continue;
        // NaN says nothing about what is good: a diverged trial (kept in the series after
        // it was stopped) must not become everyone's "best" and stop them all.
        double best = 0, sum = 0;
        size_t finite = 0;
        for (size_t i = 0; i < reported; ++i) {
            double value = values[i].second;
            if (std::isnan(value)) continue;
            if (finite == 0 || objective_.better(value, best)) best = value;
            sum += value;
            ++finite;
        }
        if (finite == 0) continue;
        best_of_others.push_back(best);
        mean_of_others.push_back(sum / static_cast<double>(finite));
    }
    if (best_of_others.empty()) return false;
    char text[160];
    if (kind_ == "bandit") {
        double best = *std::max_element(best_of_others.begin(), best_of_others.end(),
                                        [&](double a, double b) { return objective_.better(b, a); });
        // best / (1 + slack) and best * (1 + slack) for a positive best; measured on |best|
        // so that a negative metric's bound lies on the worse side of the best too.
        double margin = std::fabs(best) * (objective_.maximize ? slack_ / (1 + slack_) : slack_);
        double bound = objective_.maximize ? best - margin : best + margin;
        if (!objective_.better(current, bound) && current != bound) {
            std::snprintf(text, sizeof text, "%s %.6g is outside the slack %.3g of the best %.6g", objective_.metric.c_str(),
                          current, slack_, best);
            *why = text;
            return true;
        }
        return false;
    }
    if (kind_ == "median") {
        std::vector<double> means = mean_of_others;
        std::nth_element(means.begin(), means.begin() + means.size() / 2, means.end());
        double median = means[means.size() / 2];
        double best_mine = current;  // not NaN, unlike perhaps an earlier value
        for (size_t i = 0; i < reported; ++i) {
            if (objective_.better(mine->second[i].second, best_mine)) best_mine = mine->second[i].second;
        }
        if (objective_.better(median, best_mine)) {
            std::snprintf(text, sizeof text, "its best %s %.6g is worse than the median %.6g of the others",
                          objective_.metric.c_str(), best_mine, median);
            *why = text;
            return true;
        }
        return false;
    }
    if (kind_ == "truncation") {
        // Stopped when among the worst `percent` of all trials at this point.
        std::vector<double> all = best_of_others;
        all.push_back(current);
        size_t worse_than_me = 0;
        for (double value : all) {
            if (objective_.better(current, value)) ++worse_than_me;
        }
        double rank_fraction = static_cast<double>(worse_than_me) / static_cast<double>(all.size());
        if (rank_fraction < percent_ / 100.0) {
            std::snprintf(text, sizeof text, "its %s %.6g is in the worst %d%% of trials", objective_.metric.c_str(),
                          current, percent_);
            *why = text;
            return true;
        }
    }
    return false;
}

}  // namespace amlflow::runtime
