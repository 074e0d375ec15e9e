#include "runtime/azureml/arm_endpoint.h"

#include <cstdlib>

#include "compiler/sha256.h"
#include "runtime/azureml/http_client.h"

namespace amlflow::runtime::azureml {
namespace {

constexpr const char* kPublicCloud = "https://management.azure.com";
constexpr size_t kMaxJobName = 255;

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string sanitized(std::string_view text, size_t limit) {
    std::string out;
    for (char c : text) {
        if (out.size() == limit) break;
        out += name_char(c) ? c : '_';
    }
    return out.empty() ? "_" : out;
}

std::string segment(std::string_view name) { return "/" + percent_encode(name); }

}  // namespace

std::optional<ArmEndpoint> ArmEndpoint::from_setting(const char* configured, std::string* error) {
    std::string url = configured && *configured ? configured : kPublicCloud;
    while (!url.empty() && url.back() == '/') url.pop_back();
    auto fail = [&](const std::string& why) -> std::optional<ArmEndpoint> {
        if (error) *error = "AMLFLOW_ARM_ENDPOINT '" + redacted_url(url) + "': " + why;
        return std::nullopt;
    };
    if (std::string refusal = url_refusal(url); !refusal.empty()) return fail(refusal);
    size_t authority = url.find("://") + 3;
    std::string rest = url.substr(authority);
    if (rest.find_first_of("/?#") != std::string::npos) {
        return fail("give only the scheme and host (and port), like https://management.azure.com");
    }
    if (rest.find('@') != std::string::npos) return fail("credentials do not belong in the endpoint");
    return ArmEndpoint(url);
}

std::optional<ArmEndpoint> ArmEndpoint::from_environment(std::string* error) {
    return from_setting(std::getenv("AMLFLOW_ARM_ENDPOINT"), error);
}

std::string ArmEndpoint::url(const std::string& path, std::string_view api_version,
                             std::string_view extra_query) const {
    std::string out = base_ + path + "?api-version=" + std::string(api_version);
    if (!extra_query.empty()) out += "&" + std::string(extra_query);
    return out;
}

std::string workspace_path(const WorkspaceRef& ws) {
    return "/subscriptions" + segment(ws.subscription) + "/resourceGroups" + segment(ws.resource_group) +
           "/providers/Microsoft.MachineLearningServices/workspaces" + segment(ws.name);
}

std::string datastores_path(const WorkspaceRef& ws) { return workspace_path(ws) + "/datastores"; }

std::string compute_path(const WorkspaceRef& ws, std::string_view compute) {
    return workspace_path(ws) + "/computes" + segment(compute);
}

std::string environment_version_path(const WorkspaceRef& ws, std::string_view name, std::string_view version) {
    return workspace_path(ws) + "/environments" + segment(name) + "/versions" + segment(version);
}

std::string code_versions_path(const WorkspaceRef& ws, std::string_view name) {
    return workspace_path(ws) + "/codes" + segment(name) + "/versions";
}

std::string code_version_path(const WorkspaceRef& ws, std::string_view name, std::string_view version) {
    return code_versions_path(ws, name) + segment(version);
}

std::string code_pending_upload_path(const WorkspaceRef& ws, std::string_view name, std::string_view version) {
    return code_version_path(ws, name, version) + "/startPendingUpload";
}

std::string job_path(const WorkspaceRef& ws, std::string_view job) {
    return workspace_path(ws) + "/jobs" + segment(job);
}

std::string job_cancel_path(const WorkspaceRef& ws, std::string_view job) { return job_path(ws, job) + "/cancel"; }

std::string model_version_path(const WorkspaceRef& ws, std::string_view name, std::string_view version) {
    return workspace_path(ws) + "/models" + segment(name) + "/versions" + segment(version);
}

bool valid_job_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxJobName) return false;
    if (name[0] == '_' || name[0] == '-') return false;
    for (char c : name) {
        if (!name_char(c)) return false;
    }
    return true;
}

std::string job_name(std::string_view run_id, std::string_view step, int attempt) {
    std::string preimage(run_id);
    preimage += '\0';
    preimage += step;
    preimage += '\0';
    preimage += std::to_string(attempt);
    std::string tag = compiler::sha256_hex(preimage).substr(0, 8);
    // "amlflow-" + run + "-" + step + "-" + attempt + "-" + tag stays within 255: the run
    // keeps up to 64 characters and the step what is left.
    std::string head = "amlflow-" + sanitized(run_id, 64) + "-";
    std::string tail = "-" + std::to_string(attempt) + "-" + tag;
    size_t room = kMaxJobName - head.size() - tail.size();
    return head + sanitized(step, room) + tail;
}

}  // namespace amlflow::runtime::azureml
