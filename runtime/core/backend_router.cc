#include "runtime/core/backend_router.h"

#include <set>

namespace amlflow::runtime {

Backend* BackendRouter::backend_for(const StepPlan& step) const {
    auto found = backends_.find(kind_of_(step));
    return found == backends_.end() ? nullptr : found->second;
}

int BackendRouter::process_count(const StepPlan& step) const {
    Backend* backend = backend_for(step);
    return backend ? backend->process_count(step) : 0;
}

void BackendRouter::start(const AttemptRequest& request, AttemptCallbacks callbacks) {
    Backend* backend = backend_for(*request.step);
    if (!backend) {
        AttemptResult result;
        result.facts.reason = "setup";
        result.message = "compute kind '" + kind_of_(*request.step) + "' is not run by this version of amlflow";
        callbacks.done(result);
        return;
    }
    placed_[request.step->name] = backend;
    backend->start(request, std::move(callbacks));
}

void BackendRouter::stop_all(const std::string& why, bool immediately) {
    std::set<Backend*> each;
    for (const auto& [kind, backend] : backends_) each.insert(backend);
    for (Backend* backend : each) backend->stop_all(why, immediately);
}

void BackendRouter::stop(const std::string& step, const std::string& why) {
    auto found = placed_.find(step);
    if (found != placed_.end()) found->second->stop(step, why);
}

bool BackendRouter::running(const std::string& step) const {
    auto found = placed_.find(step);
    return found != placed_.end() && found->second->running(step);
}

}  // namespace amlflow::runtime
