#include "runtime/report/run_reporter.h"

#include "runtime/core/error_file.h"

#include "runtime/report/terminal_sink.h"

#include <unistd.h>

#include <cstdlib>

namespace amlflow::runtime {

RunReporter::RunReporter(int fd) : fd_(fd), colour_(colour_allowed(fd)) {}

void RunReporter::write(const std::string& text) {
    if (board_) {
        board_->write_above(fd_, text);
        return;
    }
    write_all(fd_, text);  // a closed terminal loses these lines, not the run
}

std::string RunReporter::paint(const std::string& text, const char* code) const {
    return colour_ ? std::string("\x1b[") + code + "m" + text + "\x1b[0m" : text;
}

std::string format_duration_ms(int64_t ms) {
    char buffer[32];
    if (ms < 1000) return std::to_string(ms) + "ms";
    if (ms < 60000) {
        std::snprintf(buffer, sizeof buffer, "%.1fs", static_cast<double>(ms) / 1000);
        return buffer;
    }
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(ms / 60000),
                  static_cast<long long>((ms / 1000) % 60));
    return buffer;
}

void RunReporter::run_started(const std::string& run_id, const std::string& file, const std::string& store,
                              size_t steps) {
    write(paint("amlflow:", "1") + " run " + run_id + " of " + file + ": " + std::to_string(steps) + " step" +
          (steps == 1 ? "" : "s") + " (store " + store + ")\n");
}

void RunReporter::note(const std::string& text) { write(paint("amlflow:", "1") + " " + text + "\n"); }

void RunReporter::attempt_started(const std::string& step, int attempt, int processes, int port, bool resumed) {
    std::string number = "(attempt " + std::to_string(shown_attempt(attempt)) + ")";
    std::string what = attempt == 0 ? "started" : (resumed ? "resumed " : "restarted ") + number;
    write(paint("amlflow:", "1") + " step '" + step + "' " + what + ": " + std::to_string(processes) + " process" +
          (processes == 1 ? "" : "es") + (port ? ", MASTER_PORT " + std::to_string(port) : "") + "\n");
}

void RunReporter::attempt_failed(const std::string& step, int attempt, const AttemptResult& result,
                                 const std::string& decision, int64_t delay_ms, bool retrying) {
    std::string text = paint("amlflow:", "1") + " step '" + step + "' attempt " + std::to_string(shown_attempt(attempt)) +
                       " failed: " + result.message;
    if (auto error = parse_error_file(result.error_file)) text += " (" + exception_summary(*error) + ")";
    if (retrying) text += "; " + decision + " in " + format_duration_ms(delay_ms);
    else text += " (" + decision + ")";
    write(text + "\n");
}

void RunReporter::step_finished(const std::string& step, const std::string& state, int64_t duration_ms) {
    const char* colour = state == "succeeded" ? "32" : state == "failed" ? "1;31" : "33";
    write(paint("amlflow:", "1") + " step '" + step + "' " + paint(state, colour) + " in " +
          format_duration_ms(duration_ms) + "\n");
}

namespace {

// The exception a rank's error file names, and its traceback when there is one.
std::string exception_text(const std::string& error_file, bool* has_traceback) {
    auto error = parse_error_file(error_file);
    if (!error) return "";
    std::string text = "  exception: " + exception_summary(*error) + "\n";
    std::string traceback = error->value("traceback", "");
    *has_traceback = !traceback.empty();
    if (traceback.empty()) return text;
    text += "  traceback (from the rank's error file, TORCHELASTIC_ERROR_FILE):\n";
    std::vector<std::string> lines;
    for (size_t at = 0; at < traceback.size();) {
        size_t end = traceback.find('\n', at);
        if (end == std::string::npos) end = traceback.size();
        lines.push_back(traceback.substr(at, end - at));
        at = end + 1;
    }
    for (size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i) text += "    | " + lines[i] + "\n";
    return text;
}

}  // namespace

void RunReporter::failure_report(const std::string& step, int attempts, const AttemptResult& last,
                                 const std::string& logs_folder) {
    std::string text = "\n" + paint("error:", "1;31") + " step '" + step + "' " +
                       (attempts == 0 ? std::string("could not start")
                                      : "failed after " + std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s")) +
                       "\n";
    text += "  root cause: " + (last.message.empty() ? last.facts.reason : last.message) + "\n";
    // What torch.distributed.elastic's @record wrote beats guessing from the log's tail.
    bool traceback = false;
    text += exception_text(last.error_file, &traceback);
    if (traceback) {
        if (!last.root_log.empty()) text += "  log: " + last.root_log + "\n";
        text += "  logs of every rank and attempt: " + logs_folder + "\n";
        write(text);
        return;
    }
    if (!last.facts.log_lines.empty()) {
        text += "  last lines of " + (last.root_log.empty() ? std::string("its log") : last.root_log) + ":\n";
        size_t from = last.facts.log_lines.size() > 20 ? last.facts.log_lines.size() - 20 : 0;
        for (size_t i = from; i < last.facts.log_lines.size(); ++i) text += "    | " + last.facts.log_lines[i] + "\n";
    }
    text += "  logs of every rank and attempt: " + logs_folder + "\n";
    write(text);
}

void RunReporter::summary(const std::string& run_id, const std::vector<StepSummary>& rows, int exit_code,
                          const std::string& store_hint) {
    size_t width = 4, state_width = 11;  // "stopped early" widens the state column
    for (const StepSummary& row : rows) {
        width = std::max(width, row.name.size());
        state_width = std::max(state_width, row.state.size() + 1);
    }
    std::string text = "\n" + std::string("step") + std::string(width - 4 + 2, ' ') + "kind      state" +
                       std::string(state_width - 5, ' ') + "attempts  time\n";
    for (const StepSummary& row : rows) {
        std::string state = row.state + std::string(state_width - row.state.size(), ' ');
        std::string kind = row.kind + std::string(row.kind.size() < 10 ? 10 - row.kind.size() : 1, ' ');
        text += row.name + std::string(width - row.name.size() + 2, ' ') + kind + state +
                std::to_string(row.attempts) + std::string(10 - std::min<size_t>(9, std::to_string(row.attempts).size()), ' ') +
                (row.duration_ms ? format_duration_ms(row.duration_ms) : "-") + "\n";
    }
    std::string verdict = exit_code == 0 ? paint("succeeded", "32") : exit_code == 130 ? paint("canceled", "33")
                                                                                        : paint("failed", "1;31");
    text += "run " + run_id + " " + verdict + "  (amlflow runs show " + run_id + store_hint + ", amlflow logs " + run_id +
            store_hint + ")\n";
    write(text);
}

}  // namespace amlflow::runtime
