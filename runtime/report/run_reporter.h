// What a run says to the person who started it, on stderr (rank output goes to stdout):
// steps starting and ending, restarts and why, the failure report that names the root
// cause, and a summary table at the end. Plain lines: safe to pipe and to grep.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/report/live_board.h"
#include "runtime/store/run_store.h"

namespace amlflow::runtime {

struct StepSummary {
    std::string name, kind, state;
    int attempts = 0;
    int64_t duration_ms = 0;
};

class RunReporter {
public:
    explicit RunReporter(int fd = 2);

    // On a terminal: the board at the bottom of the screen, lifted for every line written.
    void set_board(LiveBoard* board) { board_ = board; }
    void step_view(const std::string& step, const StepView& view) {
        if (board_) board_->update(step, view);
    }

    void run_started(const std::string& run_id, const std::string& file, const std::string& store, size_t steps);
    void note(const std::string& text);
    // `attempt` as the store numbers it (from 0); shown from 1. `resumed`: the first
    // attempt of a step that `--resume` runs again.
    void attempt_started(const std::string& step, int attempt, int processes, int port, bool resumed = false);
    void attempt_failed(const std::string& step, int attempt, const AttemptResult& result, const std::string& decision,
                        int64_t delay_ms, bool retrying);
    void step_finished(const std::string& step, const std::string& state, int64_t duration_ms);
    // The final word on a failed step: the root-cause rank, its exit, the tail of its log,
    // the attempts made and where every log is.
    void failure_report(const std::string& step, int attempts, const AttemptResult& last,
                        const std::string& logs_folder);
    // `store_hint` is appended to the commands it suggests (" --file pipeline.amlflow").
    void summary(const std::string& run_id, const std::vector<StepSummary>& rows, int exit_code,
                 const std::string& store_hint);

private:
    void write(const std::string& text);
    std::string paint(const std::string& text, const char* code) const;

    int fd_;
    bool colour_;
    LiveBoard* board_ = nullptr;
};

std::string format_duration_ms(int64_t ms);

}  // namespace amlflow::runtime
