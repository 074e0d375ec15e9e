#include "runtime/azureml/compute_setup.h"

namespace amlflow::runtime::azureml {

std::string iso_duration(long long milliseconds) {
    long long seconds = std::max(1LL, (milliseconds + 999) / 1000);
    return "PT" + std::to_string(seconds) + "S";
}

nlohmann::json compute_body(const nlohmann::json& fields, const std::string& location) {
    long long idle = 30 * 60 * 1000;
    if (fields.contains("idle_time") && fields["idle_time"].is_object()) {
        idle = fields["idle_time"].value("$duration_ms", idle);
    }
    std::string priority = fields.value("priority", "dedicated") == "low_priority" ? "LowPriority" : "Dedicated";
    nlohmann::json scale = {{"minNodeCount", fields.value("min_nodes", 0)},
                            {"maxNodeCount", fields.value("max_nodes", 1)},
                            {"nodeIdleTimeBeforeScaleDown", iso_duration(idle)}};
    return {{"location", location},
            {"tags", {{kCreatedByTag, kCreatedByAmlflow}}},
            {"properties",
             {{"computeType", "AmlCompute"},
              {"properties", {{"vmSize", fields.value("vm_size", "")}, {"vmPriority", priority}, {"scaleSettings", scale}}}}}};
}

ComputeSetup::ComputeSetup(ArmClient& arm, std::string name, nlohmann::json fields, std::string location, Say say)
    : arm_(arm), name_(std::move(name)), fields_(std::move(fields)), location_(std::move(location)), say_(std::move(say)) {}

void ComputeSetup::start(Done done) {
    done_ = std::move(done);
    auto self = shared_from_this();
    arm_.call("GET", compute_path(arm_.workspace(), name_), nullptr, [self](ArmAnswer answer) {
        if (self->canceled_) return;
        if (answer.status == 404) return self->create();
        if (!answer.ok()) return self->finish(false, "cannot read compute '" + self->name_ + "': " + answer.error);
        // An existing cluster is used as it is: say where it differs from the file.
        const nlohmann::json there = answer.body.value("properties", nlohmann::json::object())
                                         .value("properties", nlohmann::json::object());
        std::string size = there.value("vmSize", "");
        int most = there.value("scaleSettings", nlohmann::json::object()).value("maxNodeCount", -1);
        std::string wanted = self->fields_.value("vm_size", "");
        if (!size.empty() && !wanted.empty() && size != wanted) {
            self->say_("compute '" + self->name_ + "' exists with vm_size '" + size + "', not '" + wanted + "': using it as it is");
        }
        if (most >= 0 && most != self->fields_.value("max_nodes", 1)) {
            self->say_("compute '" + self->name_ + "' exists with max_nodes " + std::to_string(most) + ", not " +
                       std::to_string(self->fields_.value("max_nodes", 1)) + ": using it as it is");
        }
        self->finish(true, "");
    });
}

void ComputeSetup::create() {
    say_("creating compute '" + name_ + "' (" + fields_.value("vm_size", "") + ")");
    auto self = shared_from_this();
    arm_.call("PUT", compute_path(arm_.workspace(), name_), compute_body(fields_, location_), [self](ArmAnswer answer) {
        if (self->canceled_) return;
        if (!answer.ok()) return self->finish(false, "cannot create compute '" + self->name_ + "': " + answer.error);
        const std::string* operation = answer.header("azure-asyncoperation");
        if (!operation) return self->finish(true, "");
        self->poll(*operation, "");
    });
}

void ComputeSetup::poll(const std::string& url, std::string last_state) {
    auto self = shared_from_this();
    arm_.get_url(url, true, [self, url, last_state](ArmAnswer answer) {
        if (self->canceled_) return;
        if (!answer.ok()) return self->finish(false, "compute '" + self->name_ + "' creation: " + answer.error);
        std::string state = answer.body.is_object() ? answer.body.value("status", "") : "";
        if (state != last_state) self->say_("compute '" + self->name_ + "': " + state);
        if (state == "Succeeded") return self->finish(true, "");
        if (state == "Failed" || state == "Canceled") {
            std::string why = answer.body.value("error", nlohmann::json::object()).value("message", "");
            return self->finish(false, "compute '" + self->name_ + "' could not be created: " + state +
                                           (why.empty() ? "" : ": " + why));
        }
        long long wait_s = 5;
        if (const std::string* after = answer.header("retry-after")) wait_s = std::max(0LL, std::atoll(after->c_str()));
        self->arm_.client().loop().after(std::chrono::seconds(wait_s), [self, url, state] {
            if (!self->canceled_) self->poll(url, state);
        });
    });
}

void ComputeSetup::finish(bool ok, const std::string& error) {
    if (!done_) return;
    Done done = std::move(done_);
    done_ = nullptr;
    done(ok, error);
}

}  // namespace amlflow::runtime::azureml
