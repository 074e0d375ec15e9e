// The live board draws under the relayed lines and lifts itself around every write, so
// a terminal shows the logs scrolling above a board that is never torn.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "runtime/core/environment_check.h"
#include "runtime/report/live_board.h"

using namespace amlflow::runtime;

namespace {

struct Collect : LineSink {
    std::string text;
    void line(std::string_view prefix, Stream, std::string_view line) override {
        text += std::string(prefix) + std::string(line) + "\n";
    }
};

// Captures what is written to stderr (where the board draws) while alive.
struct StderrCapture {
    int pipe_fds[2];
    int saved;
    StderrCapture() {
        BOOST_REQUIRE(pipe2(pipe_fds, O_NONBLOCK) == 0);
        saved = dup(STDERR_FILENO);
        dup2(pipe_fds[1], STDERR_FILENO);
    }
    std::string take() {
        std::string out;
        char buffer[4096];
        ssize_t n;
        while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
        return out;
    }
    ~StderrCapture() {
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(live_board)

BOOST_AUTO_TEST_CASE(draws_running_steps_and_lifts_itself_for_lines) {
    EventLoop loop;
    Collect inner;
    StderrCapture captured;
    LiveBoard board(loop, inner, {"train", "eval"});
    StepView running;
    running.state = "running";
    running.ranks = 2;
    running.alive = 2;
    running.restarts = 1;
    board.update("train", running);
    std::string drawn = captured.take();
    BOOST_TEST(drawn.find("train  running") != std::string::npos, drawn);
    BOOST_TEST(drawn.find("ranks 2/2") != std::string::npos, drawn);
    BOOST_TEST(drawn.find("restarts 1") != std::string::npos, drawn);
    BOOST_TEST(drawn.find("eval  pending") != std::string::npos, drawn);

    std::string prefix = board.prefix("train 0", 0);
    board.line(prefix, Stream::out, "epoch 3: loss 0.1");
    board.flush();
    std::string redrawn = captured.take();
    // Lifted (cursor up two lines, clear to the end) before the line, drawn again after,
    // now showing the step's last line.
    BOOST_TEST(redrawn.rfind("\x1b[2F\x1b[J", 0) == 0u, redrawn);
    BOOST_TEST(redrawn.find("epoch 3: loss 0.1") != std::string::npos, redrawn);
    BOOST_TEST(inner.text == "[train 0] epoch 3: loss 0.1\n");

    StepView done;
    done.state = "succeeded";
    board.update("train", done);
    board.update("eval", done);
    std::string cleared = captured.take();
    BOOST_TEST(cleared.find("succeeded") == std::string::npos, "finished steps leave the board: " << cleared);
    board.close();
}

// A remote job's states (issue 18 item 3): the row shows the latest in amlflow's word and
// every state the service walked with how long it took, the latest still counting.
BOOST_AUTO_TEST_CASE(a_remote_jobs_states_with_their_times_in_its_row) {
    std::vector<PlaceState> states = {{"NotStarted", "queued", 1000}, {"Queued", "queued", 1300},
                                      {"Preparing", "preparing", 2500}, {"Running", "running", 5500}};
    BOOST_TEST(place_states_text(states, 46500) ==
               "NotStarted 0.3 s \u203a Queued 1.2 s \u203a Preparing 3.0 s \u203a Running 41 s");
    states.push_back({"Completed", "succeeded", 200000, true});
    BOOST_TEST(place_states_text(states, 300000) ==
               "NotStarted 0.3 s \u203a Queued 1.2 s \u203a Preparing 3.0 s \u203a Running 3:14 \u203a Completed");

    EventLoop loop;
    Collect inner;
    StderrCapture captured;
    LiveBoard board(loop, inner, {"train"});
    StepView view;
    view.state = "running";
    view.ranks = 4;
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(EventLoop::Clock::now().time_since_epoch()).count();
    view.place_states = {{"Queued", "queued", now - 5000}, {"Preparing", "preparing", now - 2000}};
    board.update("train", view);
    std::string drawn = captured.take();
    // The executor's "running" is the service's Preparing: the row says "preparing".
    BOOST_TEST(drawn.find("train  preparing") != std::string::npos, drawn);
    BOOST_TEST(drawn.find("Queued 3.0 s \u203a Preparing") != std::string::npos, drawn);
    BOOST_TEST(drawn.find("ranks 0/4") != std::string::npos, drawn);
    view.place_states.push_back({"Running", "running", now});
    board.update("train", view);
    drawn = captured.take();
    BOOST_TEST(drawn.find("train  running") != std::string::npos, drawn);
    BOOST_TEST(drawn.find("Preparing 2.0 s \u203a Running") != std::string::npos, drawn);
    board.close();
}

BOOST_AUTO_TEST_CASE(requirement_names) {
    BOOST_TEST(requirement_name("torch>=1.13") == "torch");
    BOOST_TEST(requirement_name("onnx") == "onnx");
    BOOST_TEST(requirement_name("azureml-core==1.48.0") == "azureml-core");
    BOOST_TEST(requirement_name("uvicorn[standard]") == "uvicorn");
    BOOST_TEST(requirement_name("numpy; python_version>'3'") == "numpy");
}

BOOST_AUTO_TEST_SUITE_END()
