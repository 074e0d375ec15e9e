// The live board: on a terminal, the last lines of the screen show each step's state,
// elapsed time, ranks alive, restarts and last output line, redrawn as they change; rank
// output and amlflow's messages scroll above it. When output is piped there is no board,
// only plain lines. It wraps the terminal sink, so every write to the screen passes here
// and the board is lifted before and put back after each burst.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/core/event_loop.h"
#include "runtime/core/log_relay.h"

namespace amlflow::runtime {

struct StepView {
    std::string state = "pending";
    int64_t started_ms = 0;  // steady milliseconds; 0: not started
    int ranks = 0, alive = 0, restarts = 0;
    // Where the place walks states of its own (an Azure ML job), those seen so far: the row
    // shows the latest in amlflow's word and each with how long it took ("Queued 1.2 s ›
    // Preparing 3.0 s › Running 0:41"), the latest still counting.
    std::vector<PlaceState> place_states;
};

// "Queued 1.2 s › Preparing 3.0 s › Running 41 s": each state with how long it lasted, the
// latest until `now_ms` (a final state, Completed or Failed, without a time).
std::string place_states_text(const std::vector<PlaceState>& states, int64_t now_ms);

class LiveBoard : public LineSink {
public:
    // Whether a board makes sense: stdout and stderr are the same terminal.
    static bool wanted();

    LiveBoard(EventLoop& loop, LineSink& inner, std::vector<std::string> steps);
    ~LiveBoard() override;

    std::string prefix(const std::string& label, int colour) const override;
    void line(std::string_view prefix, Stream stream, std::string_view text) override;
    void flush() override;
    bool accepting() override { return inner_.accepting(); }
    void skipped(std::string_view prefix, std::size_t bytes) override { inner_.skipped(prefix, bytes); }

    void update(const std::string& step, const StepView& view);
    // Writes `text` (amlflow's own lines) above the board.
    void write_above(int fd, const std::string& text);
    void close();  // lifts the board for good

private:
    std::string row_of(const std::string& name, const StepView& view) const;
    void erase();
    void draw();
    void tick();

    EventLoop& loop_;
    LineSink& inner_;
    std::vector<std::string> order_;
    std::map<std::string, StepView> steps_;
    std::map<std::string, std::string> last_line_;  // by step
    std::map<std::string, std::string> step_of_prefix_;
    int drawn_ = 0;
    bool closed_ = false;
    EventLoop::TimerId timer_ = 0;
};

}  // namespace amlflow::runtime
