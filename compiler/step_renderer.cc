#include "compiler/step_renderer.h"

#include <system_error>
#include <utility>

#include "compiler/plan_step.h"

namespace amlflow::compiler {

namespace {

constexpr size_t kBatch = 32;  // steps per wake-up of the renderer

}  // namespace

StepRenderer::StepRenderer(bool on_a_thread) {
    if (!on_a_thread) return;
    try {
        thread_ = std::thread([this] { work(); });
    } catch (const std::system_error&) {
        // No thread to be had: the caller's thread renders.
    }
}

StepRenderer::~StepRenderer() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.clear();
        closed_ = true;
    }
    ready_.notify_one();
    thread_.join();
}

void StepRenderer::add(CheckedStep& step) {
    if (!thread_.joinable()) {
        render_step(step);
        return;
    }
    pending_.push_back(&step);
    if (pending_.size() >= kBatch) hand_over();
}

void StepRenderer::hand_over() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.insert(queue_.end(), pending_.begin(), pending_.end());
    }
    pending_.clear();
    ready_.notify_one();
}

void StepRenderer::work() {
    std::vector<CheckedStep*> taken;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_.wait(lock, [&] { return !queue_.empty() || closed_; });
            if (queue_.empty()) return;
            taken.swap(queue_);
        }
        for (CheckedStep* step : taken) {
            if (error_) break;  // the caller gets the first error; the rest is left
            try {
                render_step(*step);
            } catch (...) {
                error_ = std::current_exception();
            }
        }
        taken.clear();
    }
}

void StepRenderer::finish() {
    if (thread_.joinable()) {
        hand_over();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            closed_ = true;
        }
        ready_.notify_one();
        thread_.join();
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace amlflow::compiler
