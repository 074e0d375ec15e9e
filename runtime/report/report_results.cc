#include "runtime/report/report_results.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <sstream>

#include "runtime/report/html_text.h"

namespace amlflow::runtime {

using nlohmann::json;

namespace {

std::string text_of(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A member of `object` when it has the wanted type; null otherwise (the store's JSON is
// read, never trusted to have a shape).
const json& member(const json& object, const char* key) {
    static const json none;
    if (!object.is_object()) return none;
    auto found = object.find(key);
    return found == object.end() ? none : *found;
}

std::string string_at(const json& object, const char* key) {
    const json& value = member(object, key);
    return value.is_string() ? value.get<std::string>() : "";
}

std::string path_html(const std::string& path) { return "<code class=\"path\">" + html_escape(path) + "</code>"; }

// "lr=0.0015, batch_size=64"
std::string params_text(const json& params) {
    std::string out;
    if (!params.is_object()) return out;
    for (const auto& [name, value] : params.items()) {
        out += (out.empty() ? "" : ", ") + name + "=" + (value.is_number() ? short_number(value) : text_of(value));
    }
    return out;
}

std::string register_html(const json& result) {
    const json& model = member(result, "model");
    std::string name = string_at(model, "name");
    if (name.empty()) return "";
    const json& version = member(model, "version");
    std::string out = "model <strong>" + html_escape(name) + "</strong> version " + html_escape(text_of(version));
    if (member(model, "existing") == json(true)) {
        out += " <span class=\"note\">(this content was registered before: the earlier version)</span>";
    }
    return out;
}

std::string download_html(const json& result) {
    std::string to = string_at(member(result, "results"), "to");
    if (to.empty()) return "";
    std::string out = "to " + path_html(to);
    const json& files = member(result, "files");
    const json& bytes = member(result, "bytes");
    if (files.is_number_integer() && bytes.is_number_integer()) {
        out += " <span class=\"note\">" + std::to_string(files.get<int64_t>()) + " file" +
               (files.get<int64_t>() == 1 ? "" : "s") + ", " + size_text(bytes.get<int64_t>()) + "</span>";
    }
    return out;
}

std::string export_html(const json& result) {
    const json& report = member(result, "export");
    std::string onnx = string_at(report, "onnx");
    if (onnx.empty()) return "";
    std::string out = path_html(onnx) + "<div class=\"checks\">";
    const json& opset = member(report, "opset");
    if (!opset.is_null()) out += "opset " + html_escape(text_of(opset)) + " \u00b7 ";
    std::string checker = string_at(report, "checker");
    out += "ONNX checker " + html_escape(checker.empty() ? "not recorded" : checker) + " \u00b7 ";
    const json& check = member(report, "numeric_check");
    if (member(check, "ran") == json(true)) {
        out += "numeric check passed (max abs diff " + html_escape(short_number(member(check, "max_abs_diff"))) + ")";
    } else {
        std::string reason = string_at(check, "reason");
        out += "<span class=\"note\">" + html_escape(reason.empty() ? "numeric check not run" : reason) + "</span>";
    }
    return out + "</div>";
}

std::string sweep_html(const json& result) {
    std::string best = string_at(result, "best");
    if (best.empty()) return "";
    const json& objective = member(result, "objective");
    std::string out = "best trial <strong>" + html_escape(best) + "</strong>";
    std::string metric = string_at(objective, "metric");
    if (!metric.empty()) {
        out += ": " + html_escape(metric) + " = " + html_escape(short_number(member(objective, "value"))) +
               " <span class=\"note\">(" + html_escape(string_at(objective, "goal")) + ")</span>";
    }
    const json& trials = member(result, "trials");
    for (const json& trial : trials.is_array() ? trials : json::array()) {
        if (string_at(trial, "name") != best) continue;
        std::string params = params_text(member(trial, "params"));
        if (!params.empty()) out += "<div class=\"checks\"><code>" + html_escape(params) + "</code></div>";
    }
    return out;
}

std::string produced_html(const ReportStep& step) {
    const std::string& kind = step.record.kind;
    std::string out = kind == "register"   ? register_html(step.result)
                      : kind == "download" ? download_html(step.result)
                      : kind == "export"   ? export_html(step.result)
                      : kind == "sweep"    ? sweep_html(step.result)
                                           : "";
    if (!out.empty()) return out;
    std::string outputs = string_at(member(step.result, "results"), "outputs");
    if (outputs.empty() && kind != "sweep") outputs = step.record.outputs.string();
    return outputs.empty() ? "" : path_html(outputs);
}

const json* sweep_result(const ReportData& data, const std::string& sweep) {
    for (const ReportStep& step : data.steps) {
        if (step.record.kind == "sweep" && step.record.name == sweep) return &step.result;
    }
    return nullptr;
}

}  // namespace

std::string short_number(const json& value) {
    if (!value.is_number()) return value.is_null() ? "\u2013" : text_of(value);
    if (value.is_number_integer()) return value.dump();
    double number = value.get<double>();
    if (!std::isfinite(number)) return std::isnan(number) ? "NaN" : number > 0 ? "inf" : "-inf";
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", number);
    return text;
}

std::string size_text(int64_t bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1000 && unit + 1 < std::size(units)) {
        value /= 1000;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
    return text;
}

std::string step_result_html(const ReportStep& step) {
    const StepRecord& record = step.record;
    std::string error = string_at(step.result, "error");
    if (record.state == StepState::Failed && !error.empty()) {
        // A step that failed before its processes ran (an action, a missing input, a
        // setup check) keeps its reason with the step.
        return "<span class=\"failed-reason\">failed: " + html_escape(error) + "</span>";
    }
    if (record.state == StepState::Failed && step.attempts.empty()) {
        return "<span class=\"note\">failed before any process started; <code>amlflow run</code> printed "
               "why</span>";
    }
    bool done = record.state == StepState::Succeeded || record.state == StepState::Cached;
    std::string out = done ? produced_html(step) : "";
    if (record.state == StepState::Cached) {
        std::string from = record.cached_from.empty() ? "an earlier run" : "run <code>" + html_escape(record.cached_from) + "</code>";
        out += std::string(out.empty() ? "" : "<div class=\"from\">") + "cached: the result of " + from +
               (out.empty() ? "" : "</div>");
    }
    return out.empty() ? "\u2013" : out;
}

bool is_best_trial(const ReportData& data, const ReportStep& step) {
    const json* result = step.sweep.empty() ? nullptr : sweep_result(data, step.sweep);
    return result && !step.record.name.empty() && string_at(*result, "best") == step.record.name;
}

std::string cache_note_html(const ReportData& data) {
    std::map<std::string, std::vector<std::string>> by_run;
    size_t cached = 0;
    for (const ReportStep& step : data.steps) {
        if (step.record.state != StepState::Cached) continue;
        ++cached;
        by_run[step.record.cached_from.empty() ? "an earlier run" : step.record.cached_from].push_back(step.record.name);
    }
    if (cached == 0) return "";
    std::ostringstream out;
    out << "<p class=\"cache-note\"><span class=\"badge state-cached\">cached</span> "
        << (cached == data.steps.size() ? "Every step" : std::to_string(cached) + " of " + std::to_string(data.steps.size()) + " steps")
        << " reused an earlier run's result instead of running: ";
    bool first = true;
    for (const auto& [run, steps] : by_run) {
        out << (first ? "" : "; ") << "from run <code>" << html_escape(run) << "</code> ";
        for (size_t i = 0; i < steps.size(); ++i) out << (i ? ", " : "") << "<q>" << html_escape(steps[i]) << "</q>";
        first = false;
    }
    out << ". The outputs, models and metrics shown for them are that run's.</p>";
    return out.str();
}

json sweeps_json(const ReportData& data) {
    json out = json::object();
    for (const ReportStep& step : data.steps) {
        if (step.record.kind != "sweep" || !step.result.is_object()) continue;
        json sweep = {{"best", string_at(step.result, "best")}, {"trials", json::object()}};
        const json& trials = member(step.result, "trials");
        for (const json& row : trials.is_array() ? trials : json::array()) {
            std::string name = string_at(row, "name");
            if (!name.empty()) sweep["trials"][name] = {{"params", params_text(member(row, "params"))}, {"state", string_at(row, "state")}};
        }
        out[step.record.name] = std::move(sweep);
    }
    return out;
}

namespace {

std::string trial_badge(const std::string& state) {
    return "<span class=\"badge " + state_class(state) + "\">" + html_escape(state) + "</span>";
}

std::string sweep_table(const std::string& name, const json& result) {
    const json& objective = member(result, "objective");
    const json& trials = member(result, "trials");
    std::string best = string_at(result, "best"), metric = string_at(objective, "metric");
    std::vector<std::string> params;  // every parameter any trial drew, in first-seen order
    for (const json& row : trials.is_array() ? trials : json::array()) {
        for (const auto& item : member(row, "params").items()) {
            if (std::find(params.begin(), params.end(), item.key()) == params.end()) params.push_back(item.key());
        }
    }
    std::ostringstream out;
    out << "<article class=\"sweep\" data-sweep=\"" << html_escape(name) << "\"><h3>sweep <q>" << html_escape(name)
        << "</q>: " << html_escape(string_at(objective, "goal")) << " <code>" << html_escape(metric) << "</code> over "
        << (trials.is_array() ? trials.size() : 0) << (trials.is_array() && trials.size() == 1 ? " trial" : " trials") << "</h3><table class=\"trials\"><thead><tr><th>trial</th>"
        << "<th>state</th>";
    for (const std::string& param : params) out << "<th>" << html_escape(param) << "</th>";
    out << "<th class=\"num\">" << html_escape(metric.empty() ? "objective" : metric) << "</th></tr></thead><tbody>";
    for (const json& row : trials.is_array() ? trials : json::array()) {
        std::string trial = string_at(row, "name");
        bool is_best = !best.empty() && trial == best;
        out << "<tr" << (is_best ? " class=\"best\"" : "") << "><td class=\"name\">" << html_escape(trial)
            << (is_best ? " <span class=\"chip best\">best</span>" : "") << "</td><td>"
            << trial_badge(string_at(row, "state")) << "</td>";
        const json& drawn = member(row, "params");
        for (const std::string& param : params) {
            const json& value = member(drawn, param.c_str());
            out << "<td class=\"num\"><code>" << html_escape(value.is_number() ? short_number(value) : value.is_null() ? "" : text_of(value))
                << "</code></td>";
        }
        out << "<td class=\"num\">" << html_escape(short_number(member(row, "value"))) << "</td></tr>";
    }
    out << "</tbody></table></article>";
    return out.str();
}

}  // namespace

std::string sweeps_html(const ReportData& data) {
    std::string body;
    for (const ReportStep& step : data.steps) {
        if (step.record.kind != "sweep" || !member(step.result, "trials").is_array()) continue;
        body += sweep_table(step.record.name, step.result);
    }
    if (body.empty()) return "";
    return "<section id=\"sweeps\"><h2>Sweeps</h2>" + body +
           "<p class=\"legend\">The objective is each trial's last reported value; a trial stopped early by the "
           "sweep's policy keeps the value it had reached.</p></section>";
}

}  // namespace amlflow::runtime
