#include "runtime/report/report_html.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <fstream>
#include <sstream>
#include <system_error>

#include "runtime/core/error_file.h"
#include "runtime/report/report_results.h"
#include "runtime/report/report_svg.h"
#include "runtime/report/report_timeline.h"
#include "runtime/core/retry_policy.h"
#include "runtime/report/run_reporter.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string clock_time(int64_t ms) {
    if (ms <= 0) return "\u2013";
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm local{};
    localtime_r(&seconds, &local);
    char text[48];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", &local);
    return text;
}

std::string badge(const std::string& state) {
    return "<span class=\"badge " + state_class(state) + "\">" + html_escape(state) + "</span>";
}

std::string span_text(int64_t from, int64_t to) {
    return from > 0 && to >= from ? format_duration_ms(to - from) : "\u2013";
}

std::string fact(const std::string& name, const std::string& html) {
    return "<div><dt>" + name + "</dt><dd>" + html + "</dd></div>";
}

std::string json_text(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string header_html(const ReportData& data) {
    const RunRecord& run = data.run;
    std::ostringstream out;
    out << "<header class=\"run-header\"><div class=\"brand\">amlflow run report</div><h1>"
        << html_escape(run.id) << " " << badge(to_string(run.state)) << "</h1><dl class=\"facts\">"
        << fact("file", "<code>" + html_escape(run.file) + "</code>")
        << fact("exit code", run.exit_code >= 0 ? std::to_string(run.exit_code) : "\u2013")
        << fact("started", clock_time(run.created_ms)) << fact("finished", clock_time(run.finished_ms))
        << fact("duration", span_text(run.created_ms, run.finished_ms))
        << fact("plan hash", "<code title=\"" + html_escape(run.plan_hash) + "\">" +
                                 html_escape(run.plan_hash.substr(0, 12)) + "</code>")
        << fact("amlflow", html_escape(run.version.empty() ? "\u2013" : run.version)) << "</dl>";
    json params = json::parse(run.params_json, nullptr, false);
    if (params.is_object() && !params.empty()) {
        out << "<h3>Parameters</h3><table class=\"params\"><tbody>";
        for (const auto& [name, value] : params.items()) {
            out << "<tr><th>" << html_escape(name) << "</th><td><code>" << html_escape(json_text(value))
                << "</code></td></tr>";
        }
        out << "</tbody></table>";
    }
    if (!run.sets.empty()) {
        out << "<p class=\"sets\">Set on the command line: ";
        for (const std::string& set : run.sets) out << "<code class=\"chip\">--set " << html_escape(set) << "</code> ";
        out << "</p>";
    }
    out << cache_note_html(data) << "</header>";
    return out.str();
}

std::string step_row(const ReportData& data, const ReportStep& step) {
    const StepRecord& record = step.record;
    bool trial = !step.sweep.empty();
    std::string name = html_escape(record.name);
    std::string state = to_string(record.state);
    if (is_best_trial(data, step)) name += " <span class=\"chip best\">best</span>";
    std::ostringstream out;
    out << "<tr class=\"step-row" << (trial ? " trial-row" : "") << "\" data-step=\"" << html_escape(record.name)
        << "\"><td class=\"name\">" << name << "</td><td>" << html_escape(record.kind) << "</td><td>"
        << badge(state)
        << "</td><td class=\"num\">" << record.attempts << "</td><td>" << clock_time(record.started_ms)
        << "</td><td class=\"num\">" << span_text(record.started_ms, record.finished_ms) << "</td><td><code title=\""
        << html_escape(record.hash) << "\">" << html_escape(record.hash.substr(0, 12)) << "</code></td><td>"
        << (state == "stopped early" ? "<span class=\"note\">stopped by the sweep's early-stop policy</span>"
                                     : step_result_html(step))
        << "</td></tr>";
    return out.str();
}

// A sweep's trials follow it, indented, so a 20-trial sweep reads as one step.
std::string steps_html(const ReportData& data) {
    std::ostringstream out;
    out << "<section id=\"steps\"><h2>Steps</h2><table class=\"steps\"><thead><tr><th>step</th><th>kind</th>"
           "<th>state</th><th>attempts</th><th>started</th><th>duration</th><th>hash</th><th>result</th></tr>"
           "</thead><tbody>";
    for (const ReportStep* step : ordered_steps(data)) out << step_row(data, *step);
    if (data.steps.empty()) out << "<tr><td colspan=\"8\" class=\"note\">no steps were recorded</td></tr>";
    out << "</tbody></table></section>";
    return out.str();
}

std::string drawings_html(const ReportData& data) {
    return "<section id=\"plan\"><h2>Plan</h2><div class=\"scroll\">" + plan_graph_svg(data) +
           "</div><p class=\"legend\"><span class=\"key edge-data\"></span>data <span class=\"key "
           "edge-after\"></span>after <span class=\"key edge-input\"></span>source / environment</p></section>"
           "<section id=\"timeline\"><h2>Timeline</h2><div class=\"scroll\">" +
           timeline_svg(data) +
           "</div><p class=\"legend\"><span class=\"dot state-succeeded\"></span>succeeded <span class=\"dot "
           "state-failed\"></span>failed <span class=\"dot state-stopped\"></span>stopped with its group <span "
           "class=\"dot state-running\"></span>running <span class=\"dot state-cached\"></span>cached "
           "<span class=\"cross\">\u2715</span>a rank's failure</p></section>";
}

std::string failure_html(const ReportStep& step, const ReportAttempt& attempt) {
    const json& failure = attempt.failure;
    std::ostringstream out;
    out << "<article class=\"failure\"><h3>step <q>" << html_escape(step.record.name) << "</q>, attempt "
        << shown_attempt(attempt.record.number) << " " << badge(to_string(attempt.record.state)) << "</h3>";
    if (!failure.is_object()) {
        out << "<p class=\"note\">No failure report was recorded for this attempt.</p></article>";
        return out.str();
    }
    if (failure.contains("message")) out << "<p class=\"message\">" << html_escape(json_text(failure["message"])) << "</p>";
    out << "<dl class=\"facts\">";
    if (failure.contains("rank") && failure["rank"].is_number_integer() && failure["rank"].get<int>() >= 0) {
        out << fact("root-cause rank", std::to_string(failure["rank"].get<int>()));
    }
    if (failure.contains("reason")) out << fact("reason", html_escape(json_text(failure["reason"])));
    if (failure.contains("exit_code")) out << fact("exit code", html_escape(json_text(failure["exit_code"])));
    if (failure.contains("signal") && failure["signal"].is_number_integer()) {
        out << fact("signal", html_escape(signal_name(failure["signal"].get<int>())));
    }
    if (failure.contains("log")) out << fact("log", "<code class=\"path\">" + html_escape(json_text(failure["log"])) + "</code>");
    const json error = failure.value("error", json());
    if (error.is_object()) {
        out << fact("exception", html_escape(exception_summary(error)));
    }
    out << "</dl>";
    if (error.is_object() && error.value("traceback", json()).is_string()) {
        out << "<pre class=\"log-tail\">" << html_escape(error["traceback"].get<std::string>()) << "</pre>";
    }
    const json tail = failure.value("tail", json());
    std::string lines;
    if (tail.is_array()) {
        for (const json& line : tail) lines += strip_terminal_codes(json_text(line)) + "\n";
    } else if (tail.is_string()) {
        lines = strip_terminal_codes(tail.get<std::string>());
    }
    if (!lines.empty()) out << "<pre class=\"log-tail\">" << html_escape(lines) << "</pre>";
    out << "</article>";
    return out.str();
}

std::string failures_html(const ReportData& data) {
    std::ostringstream out;
    size_t count = 0;
    for (const ReportStep& step : data.steps) {
        for (const ReportAttempt& attempt : step.attempts) {
            if (attempt.record.state != AttemptState::Failed) continue;
            out << failure_html(step, attempt);
            ++count;
        }
    }
    for (const ReportStep& step : data.steps) {
        if (step.record.state != StepState::Failed || !step.attempts.empty()) continue;
        out << "<article class=\"failure\"><h3>step <q>" << html_escape(step.record.name) << "</q> "
            << badge("failed") << "</h3><p class=\"note\">It failed before any process started (a "
            << html_escape(step.record.kind) << " step's own work, or a check before its launch)";
        const nlohmann::json& error = step.result.is_object() && step.result.contains("error") ? step.result["error"]
                                                                                               : nlohmann::json();
        if (error.is_string()) {
            out << ":</p><pre class=\"tail\">" << html_escape(error.get<std::string>()) << "</pre></article>";
        } else {
            out << ", so no attempt holds a report; <code>amlflow run</code> printed the reason.</p></article>";
        }
        ++count;
    }
    if (count == 0) return "<section id=\"failures\"><h2>Failures</h2><p class=\"note\">No attempt failed.</p></section>";
    return "<section id=\"failures\"><h2>Failures <span class=\"count\">" + std::to_string(count) + "</span></h2>" +
           out.str() + "</section>";
}

// "key=value" chips for a model's tags (a JSON object); the raw text when it is not one.
std::string tags_html(const std::string& tags_json) {
    json tags = json::parse(tags_json, nullptr, false);
    if (!tags.is_object()) return tags_json == "{}" ? "" : "<code>" + html_escape(tags_json) + "</code>";
    std::string out;
    for (const auto& [key, value] : tags.items()) {
        out += "<code class=\"chip\">" + html_escape(key + "=" + json_text(value)) + "</code> ";
    }
    return out;
}

// The model versions the run registered; no section when it registered none.
std::string models_html(const ReportData& data) {
    if (data.models.empty()) return "";
    std::ostringstream out;
    out << "<section id=\"models\"><h2>Models</h2><table class=\"models\"><thead><tr><th>model</th>"
           "<th>version</th><th>registered by</th><th>from</th><th>size</th><th>sha256</th><th>registered</th>"
           "<th>tags</th><th>path</th></tr></thead><tbody>";
    for (const ModelRecord& model : data.models) {
        out << "<tr class=\"model-row\"><td class=\"name\">" << html_escape(model.name) << "</td><td class=\"num\">"
            << model.version << "</td><td>" << html_escape(model.step) << "</td><td>"
            << html_escape(model.source_step) << " (attempt " << shown_attempt(model.source_attempt) << ")</td><td class=\"num\">"
            << size_text(model.bytes) << "</td><td><code title=\"" << html_escape(model.hash) << "\">"
            << html_escape(model.hash.substr(0, 12)) << "</code></td><td>" << clock_time(model.created_ms)
            << "</td><td>" << tags_html(model.tags_json) << "</td><td><code class=\"path\">"
            << html_escape(model.path.string()) << "</code></td></tr>";
    }
    out << "</tbody></table></section>";
    return out.str();
}

// The run's Azure ML jobs: step, attempt, how each ended, the service's states with how long
// each took, the studio link; no section for a run that had none.
std::string remote_jobs_html(const ReportData& data) {
    if (data.remote_jobs.empty()) return "";
    std::ostringstream out;
    out << "<section id=\"remote-jobs\"><h2>Azure ML jobs</h2><table class=\"remote-jobs\"><thead><tr><th>job</th>"
           "<th>step</th><th>attempt</th><th>state</th><th>states on the service</th><th>studio</th></tr></thead><tbody>";
    // The studio link as text: the page links only inside itself.
    for (const RemoteJob& job : data.remote_jobs) {
        out << "<tr class=\"remote-job\"><td><code>" << html_escape(job.job) << "</code></td><td>" << html_escape(job.step)
            << "</td><td class=\"num\">" << shown_attempt(job.attempt) << "</td><td>" << html_escape(job.state)
            << "</td><td class=\"states\">" << html_escape(state_times_text(job.states)) << "</td><td><code class=\"path\">"
            << html_escape(job.studio) << "</code></td></tr>";
    }
    out << "</tbody></table></section>";
    return out.str();
}

}  // namespace

std::string render_report_html(const ReportData& data) {
    std::string sweeps = sweeps_html(data);
    std::ostringstream out;
    out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>amlflow run "
        << html_escape(data.run.id) << "</title><style>" << report_stylesheet() << "</style></head><body><main>"
        << header_html(data)
        << "<nav><a href=\"#steps\">Steps</a>" << (sweeps.empty() ? "" : "<a href=\"#sweeps\">Sweeps</a>")
        << "<a href=\"#plan\">Plan</a><a href=\"#timeline\">Timeline</a>"
           "<a href=\"#metrics\">Metrics</a><a href=\"#failures\">Failures</a>"
        << (data.models.empty() ? "" : "<a href=\"#models\">Models</a>")
        << (data.remote_jobs.empty() ? "" : "<a href=\"#remote-jobs\">Azure ML jobs</a>") << "</nav>" << steps_html(data) << sweeps
        << drawings_html(data)
        << "<section id=\"metrics\"><h2>Metrics</h2><div id=\"charts\" class=\"charts\"></div>"
           "<noscript><p class=\"note\">The metric charts are drawn by this page's script.</p></noscript></section>"
        << failures_html(data) << models_html(data) << remote_jobs_html(data) << "<footer>Written by amlflow "
        << html_escape(AMLFLOW_VERSION) << " from the run store.</footer></main>"
        << "<script type=\"application/json\" id=\"report-data\">"
        << json_for_script({{"run", data.run.id}, {"charts", metrics_json(data)}, {"sweeps", sweeps_json(data)}}) << "</script><script>"
        << report_script() << "</script></body></html>\n";
    return out.str();
}

bool write_report_html(const ReportData& data, const fs::path& path, std::string* error) {
    fs::path temporary = path;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (out) out << render_report_html(data);
        if (!out.flush()) {
            if (error) *error = "cannot write '" + path.string() + "': " + std::strerror(errno);
            std::error_code ignored;
            fs::remove(temporary, ignored);
            return false;
        }
    }
    std::error_code failed;
    fs::rename(temporary, path, failed);
    if (failed) {
        if (error) *error = "cannot write '" + path.string() + "': " + failed.message();
        fs::remove(temporary, failed);
        return false;
    }
    return true;
}

}  // namespace amlflow::runtime
