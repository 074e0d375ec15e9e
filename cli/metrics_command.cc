// `amlflow metrics RUN [--step S]`: what a run's scripts reported, per step and name:
// how many values, the last one, and the best one with the step index it came at.
// "Best" is the lowest for names that read as errors (loss, error, mse, mae, rmse,
// perplexity, wer, cer), and for a sweep's objective its own direction; else the
// highest. Params logged with amlflow.log_params come after.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/store_option.h"
#include "cli/table_format.h"

namespace amlflow::cli {

using namespace amlflow::runtime;

namespace {

bool lower_is_better(const std::string& name) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* word : {"loss", "error", "err", "mse", "mae", "rmse", "perplexity", "wer", "cer"}) {
        if (lower.find(word) != std::string::npos) return true;
    }
    return false;
}

std::string number(double value) {
    if (std::isnan(value)) return "NaN";
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

struct Summary {
    size_t count = 0;
    double last = 0, best = 0;
    int64_t best_index = -1;
    int attempt = 0;
    bool has_best = false;
};

// A sweep's own record: its trials' objective values and the best one.
void print_sweep(const StepRecord& step) {
    auto result = nlohmann::json::parse(step.result_json.empty() ? "{}" : step.result_json, nullptr, false);
    if (!result.is_object() || !result.contains("trials")) return;
    const auto& objective = result.value("objective", nlohmann::json::object());
    std::cout << step.name << (step.cached_from.empty() ? "" : " (cached from " + step.cached_from + ")") << ": "
              << objective.value("goal", "") << " " << objective.value("metric", "") << ", best trial "
              << result.value("best", "") << "\n";
    for (const auto& trial : result["trials"]) {
        std::cout << "  " << pad(trial.value("name", ""), 14) << pad(trial.value("state", ""), 14)
                  << pad(trial.contains("value") && trial["value"].is_number() ? number(trial["value"].get<double>()) : "-", 12)
                  << trial.value("params", nlohmann::json::object()).dump() << "\n";
    }
}

void print_step(RunStore& store, const std::string& run, const StepRecord& step) {
    if (step.kind == "sweep") return print_sweep(step);
    auto metrics = store.metrics_of(step.cached_from.empty() ? run : step.cached_from, step.name);
    auto params = store.params_of(step.cached_from.empty() ? run : step.cached_from, step.name);
    if ((!metrics || metrics->empty()) && (!params || params->empty())) return;
    std::cout << step.name << (step.cached_from.empty() ? "" : " (cached from " + step.cached_from + ")") << "\n";
    // Rank 0's values: the one every rank agrees with in data-parallel training.
    std::map<std::string, Summary> by_name;
    for (const MetricRecord& metric : metrics ? *metrics : std::vector<MetricRecord>{}) {
        if (metric.rank != 0) continue;
        Summary& summary = by_name[metric.name];
        ++summary.count;
        summary.last = metric.value;
        summary.attempt = metric.attempt;
        if (std::isnan(metric.value)) continue;
        bool better = lower_is_better(metric.name) ? metric.value < summary.best : metric.value > summary.best;
        if (!summary.has_best || better) {
            summary.best = metric.value;
            summary.best_index = metric.step_index;
            summary.has_best = true;
        }
    }
    if (!by_name.empty()) {
        std::cout << "  " << pad("metric", 20) << pad("values", 8) << pad("last", 12) << pad("best", 12) << "at step\n";
        for (const auto& [name, summary] : by_name) {
            std::cout << "  " << pad(name, 20) << pad(std::to_string(summary.count), 8) << pad(number(summary.last), 12)
                      << pad(summary.has_best ? number(summary.best) : "-", 12)
                      << (summary.best_index >= 0 ? std::to_string(summary.best_index) : "-") << "\n";
        }
    }
    if (params && !params->empty()) {
        std::cout << "  params:";
        for (const auto& [name, value] : *params) std::cout << " " << name << "=" << value;
        std::cout << "\n";
    }
}

int show_metrics(const StoreOption& where, const std::string& id, const std::string& only) {
    auto store = where.open();
    if (!store) return 1;
    auto run = StoreOption::find_run(*store, id);
    if (!run) return 1;
    auto steps = store->steps_of(run->id);
    if (!steps) {
        std::cerr << "amlflow: error: " << store->last_error() << "\n";
        return 1;
    }
    bool found = only.empty();
    for (const StepRecord& step : *steps) {
        if (!only.empty() && step.name != only) continue;
        found = true;
        print_step(*store, run->id, step);
    }
    if (!found) {
        std::cerr << "amlflow: error: run '" << run->id << "' has no step '" << only << "'\n";
        return 1;
    }
    return 0;
}

}  // namespace

Runner add_metrics_command(CLI::App& app) {
    auto where = std::make_shared<StoreOption>();
    auto id = std::make_shared<std::string>();
    auto step = std::make_shared<std::string>();
    CLI::App* command = app.add_subcommand("metrics", "The metrics a run's steps reported: last and best per name");
    command->add_option("run", *id, "The run id, or a unique prefix of it")->required();
    command->add_option("--step", *step, "Only this step (a sweep's trial: 'tune[3]')");
    where->add_to(command);
    return [where, id, step]() { return show_metrics(*where, *id, *step); };
}

}  // namespace amlflow::cli
