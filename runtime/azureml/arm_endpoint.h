// Where the Azure resource manager is and how the Azure ML resources are named in it
// (NOTES "Endpoints"): the host from `AMLFLOW_ARM_ENDPOINT` (default
// https://management.azure.com; plain http only for loopback, as the HTTP client rules),
// the token scope that host needs, each resource's path under the workspace, and the
// deterministic name of a job attempt, so that a repeated PUT of it is safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace amlflow::runtime::azureml {

// The stable api-version whose bodies @azure/arm-machinelearning's mappers describe.
inline constexpr const char* kArmApiVersion = "2022-10-01";
// The code-version list's hash query and startPendingUpload exist from this one on.
inline constexpr const char* kArmApiVersionCodeHash = "2023-04-01";

// The tag amlflow puts on what it creates in a workspace (compute clusters, environment and
// code versions): `amlflow gc --workspace` removes only what carries it.
inline constexpr const char* kCreatedByTag = "createdBy";
inline constexpr const char* kCreatedByAmlflow = "amlflow";

struct WorkspaceRef {
    std::string subscription;
    std::string resource_group;
    std::string name;
};

class ArmEndpoint {
public:
    // `configured` is AMLFLOW_ARM_ENDPOINT's value (null or empty: the public cloud's).
    // A URL that is not https (or http to a loopback host), or that has a path, query or
    // credentials in it, is an error.
    static std::optional<ArmEndpoint> from_setting(const char* configured, std::string* error);
    static std::optional<ArmEndpoint> from_environment(std::string* error);

    // "https://management.azure.com", no trailing '/'.
    const std::string& base() const { return base_; }
    // The OAuth scope of the resource manager: "<base>/.default".
    std::string scope() const { return base_ + "/.default"; }
    // The resource form of the same (Azure CLI, managed identity): "<base>/".
    std::string resource() const { return base_ + "/"; }

    // base + path + "?api-version=..." (+ "&" + extra_query when given, already encoded).
    std::string url(const std::string& path, std::string_view api_version = kArmApiVersion,
                    std::string_view extra_query = {}) const;

private:
    explicit ArmEndpoint(std::string base) : base_(std::move(base)) {}
    std::string base_;
};

// Resource paths, each name percent-encoded as one path segment.
std::string workspace_path(const WorkspaceRef& ws);
std::string datastores_path(const WorkspaceRef& ws);  // list; ?isDefault=true for the default
std::string compute_path(const WorkspaceRef& ws, std::string_view compute);
std::string environment_version_path(const WorkspaceRef& ws, std::string_view name, std::string_view version);
std::string code_versions_path(const WorkspaceRef& ws, std::string_view name);  // list; hash query
std::string code_version_path(const WorkspaceRef& ws, std::string_view name, std::string_view version);
std::string code_pending_upload_path(const WorkspaceRef& ws, std::string_view name, std::string_view version);
std::string job_path(const WorkspaceRef& ws, std::string_view job);
std::string job_cancel_path(const WorkspaceRef& ws, std::string_view job);
std::string model_version_path(const WorkspaceRef& ws, std::string_view name, std::string_view version);

// Whether `name` is a valid client-chosen job name: ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$.
bool valid_job_name(std::string_view name);

// The name of one attempt of a step of a run: "amlflow-<run>-<step>-<attempt>-<tag>", where
// run and step keep their letters, digits, '_' and '-' (anything else becomes '_'), long
// parts are shortened, and <tag> is 8 hex digits of sha256(run, step, attempt) so that
// inputs the sanitizing made alike still get different names. Always valid; the same
// inputs give the same name, which is what makes a repeated PUT of the job safe.
std::string job_name(std::string_view run_id, std::string_view step, int attempt);

}  // namespace amlflow::runtime::azureml
