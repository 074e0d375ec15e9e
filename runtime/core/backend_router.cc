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

Backend* BackendRouter::backend_of(const nlohmann::json& compute) const {
    auto found = backends_.find(compute.is_object() ? compute.value("$kind", "local") : "local");
    return found == backends_.end() ? nullptr : found->second;
}

void BackendRouter::register_model(const ModelRegistration& model, std::function<void(PlaceModel)> done) {
    if (Backend* backend = backend_of(model.compute)) return backend->register_model(model, std::move(done));
    Backend::register_model(model, std::move(done));
}

void BackendRouter::fetch_files(const FilesFetch& fetch, std::function<void(std::string)> done) {
    if (Backend* backend = backend_of(fetch.compute)) return backend->fetch_files(fetch, std::move(done));
    Backend::fetch_files(fetch, std::move(done));
}

}  // namespace amlflow::runtime
