#include "runtime/report/live_board.h"

#include <algorithm>

#include "runtime/report/terminal_sink.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace amlflow::runtime {

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::Clock::now().time_since_epoch()).count();
}

int terminal_width() {
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
    return 100;
}

// Printable text of a line, without escape sequences, cut to `width` characters.
std::string fit(const std::string& text, size_t width) {
    std::string out;
    size_t shown = 0;
    for (size_t i = 0; i < text.size() && shown < width; ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == 0x1b) {
            while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
            continue;
        }
        if (c < 0x20) continue;
        out += text[i];
        if ((c & 0xC0) != 0x80) ++shown;
    }
    return out;
}

std::string clock(int64_t ms) {
    char text[48];
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(ms / 60000),
                  static_cast<long long>((ms / 1000) % 60));
    return text;
}

// How long a state took: "1.2 s", "41 s", "3:05".
std::string took(int64_t ms) {
    char text[48];
    if (ms < 10000) {
        std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
        return text;
    }
    if (ms < 120000) return std::to_string(ms / 1000) + " s";
    return clock(ms);
}

}  // namespace

std::string place_states_text(const std::vector<PlaceState>& states, int64_t now_ms) {
    std::string out;
    for (size_t i = 0; i < states.size(); ++i) {
        if (i > 0) out += " › ";
        out += states[i].name;
        if (states[i].final) continue;
        int64_t until = i + 1 < states.size() ? states[i + 1].since_ms : now_ms;
        out += " " + took(std::max<int64_t>(0, until - states[i].since_ms));
    }
    return out;
}

bool LiveBoard::wanted() {
    const char* term = std::getenv("TERM");
    return isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0) &&
           std::getenv("AMLFLOW_NO_BOARD") == nullptr;
}

LiveBoard::LiveBoard(EventLoop& loop, LineSink& inner, std::vector<std::string> steps)
    : loop_(loop), inner_(inner), order_(std::move(steps)) {
    for (const std::string& step : order_) steps_[step] = StepView{};
    timer_ = loop_.after(std::chrono::seconds(1), [this] { tick(); });
}

LiveBoard::~LiveBoard() { close(); }

void LiveBoard::tick() {
    timer_ = 0;
    if (closed_) return;
    erase();
    draw();
    timer_ = loop_.after(std::chrono::seconds(1), [this] { tick(); });
}

std::string LiveBoard::prefix(const std::string& label, int colour) const {
    std::string text = inner_.prefix(label, colour);
    // "train 1" and "train node 0" belong to step "train".
    std::string step = label.substr(0, label.find(' '));
    const_cast<LiveBoard*>(this)->step_of_prefix_[text] = step;
    return text;
}

void LiveBoard::line(std::string_view prefix, Stream stream, std::string_view text) {
    auto found = step_of_prefix_.find(std::string(prefix));
    if (found != step_of_prefix_.end()) last_line_[found->second] = std::string(text);
    if (drawn_ > 0) erase();
    inner_.line(prefix, stream, text);
}

void LiveBoard::flush() {
    if (drawn_ > 0) erase();
    inner_.flush();
    draw();
}

void LiveBoard::update(const std::string& step, const StepView& view) {
    // Steps appear as they are made too: a sweep's trials.
    if (!steps_.count(step) && std::find(order_.begin(), order_.end(), step) == order_.end()) order_.push_back(step);
    steps_[step] = view;
    erase();
    draw();
}

void LiveBoard::write_above(int fd, const std::string& text) {
    erase();
    inner_.flush();
    write_all(fd, text);
    draw();
}

void LiveBoard::erase() {
    if (drawn_ == 0) return;
    // Up to the board's first line, then clear to the end of the screen.
    write_all(STDERR_FILENO, "\x1b[" + std::to_string(drawn_) + "F\x1b[J");
    drawn_ = 0;
}

void LiveBoard::draw() {
    if (closed_ || drawn_ > 0) return;
    size_t width = static_cast<size_t>(terminal_width()) - 1;
    std::string text;
    int lines = 0;
    for (const std::string& name : order_) {
        const StepView& view = steps_[name];
        if (view.state != "running" && view.state != "restarting" && view.state != "pending") continue;
        if (lines == 8) break;  // a board taller than that hides the logs it sits under
        std::string row = row_of(name, view);
        auto last = last_line_.find(name);
        std::string shown = fit(row, width);
        if (last != last_line_.end() && shown.size() + 4 < width) {
            shown = row + "  \x1b[2m" + fit(last->second, width - fit(row, width).size() - 2) + "\x1b[0m";
        } else {
            shown = row;
        }
        text += shown + "\n";
        ++lines;
    }
    if (lines == 0) return;
    write_all(STDERR_FILENO, text);
    drawn_ = lines;
}

// " ● train  running  0:41  ranks 2/2  restarts 1"; a step whose place walks states of its
// own shows the latest in amlflow's word and every one with its time.
std::string LiveBoard::row_of(const std::string& name, const StepView& view) const {
    std::string state = view.state;
    if (state == "running" && !view.place_states.empty()) state = view.place_states.back().ours;
    std::string row = " " + std::string(state == "running" ? "\x1b[32m●\x1b[0m " : "\x1b[2m○\x1b[0m ") + name + "  " + state;
    int64_t now = steady_ms();
    if (view.started_ms) row += "  " + clock(now - view.started_ms);
    if (!view.place_states.empty()) row += "  " + place_states_text(view.place_states, now);
    if (view.ranks) row += "  ranks " + std::to_string(view.alive) + "/" + std::to_string(view.ranks);
    if (view.restarts) row += "  restarts " + std::to_string(view.restarts);
    return row;
}

void LiveBoard::close() {
    if (closed_) return;
    erase();
    closed_ = true;
    if (timer_) loop_.cancel(timer_);
    timer_ = 0;
}

}  // namespace amlflow::runtime
