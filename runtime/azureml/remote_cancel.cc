#include "runtime/azureml/remote_cancel.h"

#include <memory>
#include <optional>

#include "runtime/azureml/arm_client.h"
#include "runtime/azureml/job_watch.h"
#include "runtime/azureml/workspace_from_plan.h"
#include "runtime/core/event_loop.h"

namespace amlflow::runtime::azureml {
using nlohmann::json;

namespace {

// The job's state, read every second until it has ended or `deadline` passed.
void follow(ArmClient& arm, const std::string& job, EventLoop::Clock::time_point deadline,
            std::optional<RemoteCancelOutcome>& out) {
    arm.call("GET", job_path(arm.workspace(), job), nullptr, [&arm, job, deadline, &out](ArmAnswer answer) {
        RemoteCancelOutcome now;
        now.status = answer.ok() ? answer.body.value("properties", json::object()).value("status", "") : "";
        if (terminal_status(now.status)) {
            now.ok = true;
            out = now;
            return;
        }
        if (EventLoop::Clock::now() >= deadline) {
            now.error = answer.ok() ? "job '" + job + "' is still " + now.status + " on the service"
                                    : "cannot read job '" + job + "': " + answer.error;
            out = now;
            return;
        }
        arm.client().loop().after(std::chrono::seconds(1), [&arm, job, deadline, &out] { follow(arm, job, deadline, out); });
    });
}

}  // namespace

RemoteCancelOutcome cancel_remote_job(const RemoteCancel& what) {
    RemoteCancelOutcome failed;
    auto endpoint = ArmEndpoint::from_environment(&failed.error);
    if (!endpoint) return failed;
    auto ws = workspace_from_plan(what.plan, what.compute, what.plan_folder, &failed.error);
    if (!ws) return failed;
    EventLoop loop;
    HttpClient http(loop);
    RetryingClient client(http);
    DefaultCredential credential(client, CredentialOptions::from_process_environment());
    ArmClient arm(client, credential, *endpoint, *ws);
    std::optional<RemoteCancelOutcome> out;
    auto deadline = EventLoop::Clock::now() + what.wait;
    // Canceling twice is harmless, so the POST is retried like a GET.
    arm.call("POST", job_cancel_path(arm.workspace(), what.job), json::object(), [&](ArmAnswer answer) {
        if (!answer.ok()) {
            RemoteCancelOutcome refused;
            refused.error = "cannot cancel job '" + what.job + "': " + answer.error;
            out = refused;
            return;
        }
        follow(arm, what.job, deadline, out);
    }, kArmApiVersion, {}, true);
    loop.run_until([&] { return out.has_value(); });
    out->error = credential.scrub(out->error);
    return *out;
}

}  // namespace amlflow::runtime::azureml
