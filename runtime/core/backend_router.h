// One Backend for the executor over several places: each attempt goes to the backend of its
// step's compute kind (local, hosts, later amlcompute), and stops go where the step runs.
// The executor keeps scheduling one plan over one interface and never names a place.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "runtime/core/backend.h"

namespace amlflow::runtime {

class BackendRouter : public Backend {
public:
    // `kind_of` names a step's compute kind ("local" for a step with none).
    explicit BackendRouter(std::function<std::string(const StepPlan&)> kind_of) : kind_of_(std::move(kind_of)) {}

    // The backend for `kind`; a kind without one fails its attempts with a setup message.
    void add(const std::string& kind, Backend* backend) { backends_[kind] = backend; }

    int process_count(const StepPlan& step) const override;
    void start(const AttemptRequest& request, AttemptCallbacks callbacks) override;
    void stop_all(const std::string& why, bool immediately) override;
    void stop(const std::string& step, const std::string& why) override;
    bool running(const std::string& step) const override;
    bool checks_first(const StepPlan& step) const override {
        Backend* backend = backend_for(step);
        return backend != nullptr && backend->checks_first(step);
    }
    bool runs_sweeps(const StepPlan& step) const override {
        Backend* backend = backend_for(step);
        return backend != nullptr && backend->runs_sweeps(step);
    }

    // To the backend of the compute named in the request.
    void register_model(const ModelRegistration& model, std::function<void(PlaceModel)> done) override;
    void fetch_files(const FilesFetch& fetch, std::function<void(std::string)> done) override;

private:
    Backend* backend_for(const StepPlan& step) const;
    Backend* backend_of(const nlohmann::json& compute) const;

    std::function<std::string(const StepPlan&)> kind_of_;
    std::map<std::string, Backend*> backends_;
    std::map<std::string, Backend*> placed_;  // step -> the backend its last attempt went to
};

}  // namespace amlflow::runtime
