// Renders checked steps (render_step, plan_step.h) while the checker goes on with the
// next: on a large file rendering is about a third of the checker's time, and on a thread
// of its own it costs the plan none. The checker hands each step over once it is done with
// it (CheckOptions::on_step_checked): from then on it reads only the step's name, kind,
// edges, ids and folders, and the renderer writes only its values and `rendered`, so the
// two never touch the same member. Steps are handed over in batches, one wake-up each.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "compiler/checked_program.h"

namespace amlflow::compiler {

class StepRenderer {
public:
    // `on_a_thread` false: each step is rendered at once, on the caller's thread.
    explicit StepRenderer(bool on_a_thread);
    // Without finish() (the caller is unwinding): what is not rendered yet is left as it is,
    // and the thread is gone before the steps may be.
    ~StepRenderer();
    StepRenderer(const StepRenderer&) = delete;
    StepRenderer& operator=(const StepRenderer&) = delete;

    // The step must stay where it is (a deque's element does) until finish() or this
    // renderer's end: declare the steps' storage before the renderer.
    void add(CheckedStep& step);
    // Returns once every step added is rendered; rethrows what rendering threw.
    void finish();

private:
    void hand_over();
    void work();

    std::vector<CheckedStep*> pending_;  // added, not handed over yet
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<CheckedStep*> queue_;  // handed over, not rendered yet
    bool closed_ = false;
    std::exception_ptr error_;
    std::thread thread_;
};

}  // namespace amlflow::compiler
