#include "runtime/report/report_timeline.h"

#include <algorithm>
#include <sstream>

#include "runtime/report/html_text.h"
#include "runtime/report/report_svg.h"
#include "runtime/core/retry_policy.h"
#include "runtime/report/run_reporter.h"

namespace amlflow::runtime {

namespace {

constexpr double kWidth = 1160, kLabelW = 220, kRightPad = 28, kAxisH = 30;
constexpr double kStepRow = 28, kAttemptRow = 22, kRankRow = 16;
constexpr size_t kMaxRanksShown = 64;  // per attempt; a 512-rank job would bury the rest

std::string num(double value) { return svg_number(value); }

// "1m 30s" for an axis label: whole units, the two largest that are not zero.
std::string tick_label(int64_t ms) {
    if (ms == 0) return "0";
    if (ms < 1000) return std::to_string(ms) + "ms";
    if (ms < 60000) return ms % 1000 ? num(ms / 1000.0) + "s" : std::to_string(ms / 1000) + "s";
    int64_t seconds = ms / 1000, minutes = seconds / 60, hours = minutes / 60;
    if (hours) return std::to_string(hours) + "h" + (minutes % 60 ? " " + std::to_string(minutes % 60) + "m" : "");
    return std::to_string(minutes) + "m" + (seconds % 60 ? " " + std::to_string(seconds % 60) + "s" : "");
}

int64_t tick_step(int64_t span_ms) {
    static const int64_t steps[] = {100,    200,    500,     1000,    2000,    5000,     10000,    15000,   30000,
                                    60000,  120000, 300000,  600000,  900000,  1800000,  3600000,  7200000, 10800000,
                                    21600000, 43200000, 86400000};
    for (int64_t step : steps) {
        if (span_ms / step <= 8) return step;
    }
    return span_ms / 8 + 1;
}

std::string duration_text(int64_t from, int64_t to) {
    return from > 0 && to >= from ? format_duration_ms(to - from) : "-";
}

// Lays rows out top to bottom and maps times to x.
class Timeline {
public:
    explicit Timeline(const ReportData& data)
        : start_(data.start_ms), span_(std::max<int64_t>(data.end_ms - data.start_ms, 1)), end_(data.end_ms) {}

    double x(int64_t ms) const {
        double at = ms <= 0 ? 0 : static_cast<double>(ms - start_) / span_;
        return kLabelW + std::clamp(at, 0.0, 1.0) * (kWidth - kLabelW - kRightPad);
    }
    int64_t end_or_now(int64_t finished) const { return finished > 0 ? finished : end_; }

    void label(const std::string& text, const std::string& css, double indent, double row_h) {
        rows_ << "<text class=\"" << css << "\" x=\"" << num(12 + indent) << "\" y=\"" << num(y_ + row_h / 2 + 4)
              << "\">" << html_escape(text) << "</text>";
    }
    void bar(const std::string& css, int64_t from, int64_t to, double row_h, double bar_h, const std::string& tip) {
        double left = x(from), right = std::max(x(end_or_now(to)), left + 2);
        rows_ << "<rect class=\"" << css << "\" x=\"" << num(left) << "\" y=\"" << num(y_ + (row_h - bar_h) / 2)
              << "\" width=\"" << num(right - left) << "\" height=\"" << num(bar_h) << "\" rx=\"" << num(bar_h / 3)
              << "\"><title>" << html_escape(tip) << "</title></rect>";
    }
    void cross(int64_t at, double row_h, const std::string& tip) {
        double cx = x(at), cy = y_ + row_h / 2, r = 4.5;
        rows_ << "<path class=\"timeline-failure\" d=\"M" << num(cx - r) << " " << num(cy - r) << " L" << num(cx + r)
              << " " << num(cy + r) << " M" << num(cx + r) << " " << num(cy - r) << " L" << num(cx - r) << " "
              << num(cy + r) << "\"><title>" << html_escape(tip) << "</title></path>";
    }
    void diamond(int64_t at, double row_h, const std::string& tip) {
        double cx = x(at), cy = y_ + row_h / 2, r = 6;
        rows_ << "<path class=\"timeline-cached state-cached\" d=\"M" << num(cx) << " " << num(cy - r) << " L"
              << num(cx + r) << " " << num(cy) << " L" << num(cx) << " " << num(cy + r) << " L" << num(cx - r) << " "
              << num(cy) << " z\"><title>" << html_escape(tip) << "</title></path>";
    }
    // Text beside a mark at `at`: to its right, or to its left when it would run off the
    // drawing (a cached step near the end of a run of cached steps).
    void note(int64_t at, double row_h, const std::string& text) {
        double room = kWidth - kRightPad / 2 - x(at) - 10, needed = 6.6 * static_cast<double>(text.size());
        bool left = needed > room && x(at) - 10 - kLabelW > room;
        rows_ << "<text class=\"timeline-note\" x=\"" << num(left ? x(at) - 10 : x(at) + 10) << "\" y=\""
              << num(y_ + row_h / 2 + 4) << "\"" << (left ? " text-anchor=\"end\"" : "") << ">" << html_escape(text)
              << "</text>";
    }
    void next_row(double row_h) { y_ += row_h; }
    // A shaded background from `top` to the current row, drawn beneath everything.
    void band(double top) {
        bands_ << "<rect class=\"timeline-band\" x=\"0\" y=\"" << num(top) << "\" width=\"" << num(kWidth)
               << "\" height=\"" << num(y_ - top) << "\"/>";
    }
    double y() const { return y_; }

    std::string svg() const {
        std::ostringstream out;
        double height = y_ + 8;
        out << "<svg class=\"timeline\" viewBox=\"0 0 " << num(kWidth) << " " << num(height) << "\" width=\""
            << num(kWidth) << "\" height=\"" << num(height) << "\">" << bands_.str();
        int64_t step = tick_step(span_);
        for (int64_t t = 0; t <= span_; t += step) {
            double at = x(start_ + t);
            out << "<line class=\"timeline-grid\" x1=\"" << num(at) << "\" y1=\"" << num(kAxisH - 6) << "\" x2=\""
                << num(at) << "\" y2=\"" << num(height) << "\"/><text class=\"timeline-tick\" x=\"" << num(at)
                << "\" y=\"" << num(kAxisH - 12) << "\">" << tick_label(t) << "</text>";
        }
        out << rows_.str() << "</svg>";
        return out.str();
    }

private:
    int64_t start_, span_, end_;
    double y_ = kAxisH;
    std::ostringstream bands_, rows_;
};

std::string rank_tip(const std::string& step, const ReportAttempt& report, const RankRecord& rank) {
    const AttemptRecord& attempt = report.record;
    std::string tip = step + " attempt " + std::to_string(shown_attempt(attempt.number)) + ", rank " +
                      std::to_string(rank.global_rank) + " (local " + std::to_string(rank.local_rank) + ", node " +
                      std::to_string(rank.node_rank) + "), pid " + std::to_string(rank.pid) + ": ";
    std::string state = rank_state(rank, report);
    if (rank.signal > 0) tip += "killed by " + signal_name(rank.signal);
    else if (rank.exit_code >= 0) tip += "exit code " + std::to_string(rank.exit_code);
    else tip += state;
    if (state == "stopped") tip += " (stopped with its group)";
    return tip + ", " + duration_text(rank.started_ms, rank.finished_ms);
}

void draw_attempt(Timeline& line, const ReportStep& step, const ReportAttempt& attempt) {
    const AttemptRecord& record = attempt.record;
    std::string state = to_string(record.state);
    std::string tip = step.record.name + " attempt " + std::to_string(shown_attempt(record.number)) + ": " + state + ", " +
                      duration_text(record.started_ms, record.finished_ms) + ", MASTER_PORT " +
                      std::to_string(record.master_port);
    int root = root_rank(attempt);
    if (attempt.failure.is_object() && attempt.failure.value("message", nlohmann::json()).is_string()) {
        tip += "\n" + attempt.failure.value("message", "");
    }
    line.label("attempt " + std::to_string(shown_attempt(record.number)), "timeline-label attempt", 14, kAttemptRow);
    line.bar("timeline-bar " + state_class(state), record.started_ms, record.finished_ms, kAttemptRow, 14, tip);
    line.next_row(kAttemptRow);
    size_t shown = 0;
    for (const RankRecord& rank : attempt.ranks) {
        if (++shown > kMaxRanksShown) {
            size_t more = attempt.ranks.size() - kMaxRanksShown;
            line.label("\u2026 " + std::to_string(more) + (more == 1 ? " more rank" : " more ranks"),
                       "timeline-label rank", 28, kRankRow);
            line.next_row(kRankRow);
            break;
        }
        std::string rank_state_text = rank_state(rank, attempt);
        bool is_root = rank.global_rank == root && record.state == AttemptState::Failed;
        line.label("rank " + std::to_string(rank.global_rank) + (is_root ? " \u00b7 root cause" : ""),
                   is_root ? "timeline-label rank root" : "timeline-label rank", 28, kRankRow);
        std::string tip_text = rank_tip(step.record.name, attempt, rank);
        int64_t started = rank.started_ms > 0 ? rank.started_ms : record.started_ms;
        int64_t finished = rank.finished_ms > 0 ? rank.finished_ms : record.finished_ms;
        line.bar("timeline-rank " + state_class(rank_state_text), started, finished, kRankRow, 8, tip_text);
        if (rank_state_text == "failed") line.cross(line.end_or_now(finished), kRankRow, tip_text);
        line.next_row(kRankRow);
    }
}

void draw_step(Timeline& line, const ReportStep& step, bool band) {
    const StepRecord& record = step.record;
    std::string state = to_string(record.state);
    double top = line.y();
    line.label(record.name, "timeline-label step", step.sweep.empty() ? 0 : 10, kStepRow);
    if (record.state == StepState::Cached) {
        int64_t at = record.finished_ms > 0 ? record.finished_ms : record.started_ms;
        std::string from = record.cached_from.empty() ? "an earlier run" : "run " + record.cached_from;
        line.diamond(at, kStepRow, record.name + ": cached, the result of " + from);
        line.note(at, kStepRow, "cached from " + from);
    } else if (record.started_ms > 0) {
        line.bar("timeline-step " + state_class(state), record.started_ms, record.finished_ms, kStepRow, 6,
                 record.name + " (" + record.kind + "): " + state + ", " +
                     duration_text(record.started_ms, record.finished_ms) + ", " + std::to_string(record.attempts) +
                     " attempt" + (record.attempts == 1 ? "" : "s"));
    } else {
        line.note(0, kStepRow, state);
    }
    line.next_row(kStepRow);
    for (const ReportAttempt& attempt : step.attempts) draw_attempt(line, step, attempt);
    if (band) line.band(top);
}

}  // namespace

std::string timeline_svg(const ReportData& data) {
    if (data.steps.empty()) return "<p class=\"note\">This run recorded no steps.</p>";
    Timeline line(data);
    bool band = false;
    // A sweep's trials right under it, as in the steps table.
    for (const ReportStep* step : ordered_steps(data)) draw_step(line, *step, band = !band);
    return line.svg();
}

}  // namespace amlflow::runtime
