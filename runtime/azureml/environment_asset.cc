#include "runtime/azureml/environment_asset.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/sha256.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> strings(const nlohmann::json& fields, const char* name) {
    std::vector<std::string> out;
    for (const auto& item : fields.value(name, nlohmann::json::array())) {
        if (item.is_string()) out.push_back(item.get<std::string>());
    }
    return out;
}

// A YAML scalar, quoted when plain YAML could misread it.
std::string scalar(const std::string& text) {
    bool plain = !text.empty() && text.find_first_of(":#{}[],&*!|>'\"%@`") == std::string::npos &&
                 text.front() != '-' && text.front() != ' ' && text.back() != ' ';
    if (plain) return text;
    std::string out = "\"";
    for (char c : text) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return out + "\"";
}

std::string sanitized(const std::string& name) {
    std::string out;
    for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    while (!out.empty() && out.front() == '_') out.erase(0, 1);
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out.empty() ? "default" : out;
}

}  // namespace

std::string conda_yaml(const nlohmann::json& fields) {
    std::ostringstream out;
    out << "name: amlflow\nchannels:\n";
    auto channels = strings(fields, "channels");
    if (channels.empty()) channels.push_back("conda-forge");
    for (const std::string& channel : channels) out << "  - " << scalar(channel) << "\n";
    std::string python = fields.value("python_version", std::string(kDefaultPythonVersion));
    out << "dependencies:\n  - " << scalar("python=" + python) << "\n  - pip\n";
    for (const std::string& package : strings(fields, "conda_packages")) out << "  - " << scalar(package) << "\n";
    auto pip = strings(fields, "pip");
    if (!pip.empty()) {
        out << "  - pip:\n";
        for (const std::string& package : pip) out << "    - " << scalar(package) << "\n";
    }
    return out.str();
}

std::optional<ServiceEnvironment> service_environment(const nlohmann::json& fields, const std::string& name,
                                                      const std::string& plan_folder, std::string* error) {
    ServiceEnvironment env;
    env.curated = fields.value("curated", "");
    if (!env.curated.empty()) return env;
    env.image = fields.value("image", "");
    if (env.image.empty()) env.image = fields.value("gpu", false) ? kDefaultGpuImage : kDefaultCpuImage;
    if (fields.contains("conda")) {
        fs::path path = fields["conda"].is_object() ? fields["conda"].value("$path", "") : fields.value("conda", "");
        if (path.is_relative()) path = fs::path(plan_folder) / path;
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            *error = "cannot read the conda file '" + path.string() + "'";
            return std::nullopt;
        }
        env.conda_yaml.assign(std::istreambuf_iterator<char>(in), {});
    } else {
        env.conda_yaml = conda_yaml(fields);
    }
    env.name = "amlflow-" + sanitized(name);
    env.version = compiler::sha256_hex(env.image + "\n" + env.conda_yaml).substr(0, 16);
    return env;
}

std::string curated_environment_id(const std::string& curated) {
    return curated.rfind("azureml:", 0) == 0 ? curated : "azureml:" + curated + "@latest";
}

void ensure_environment(ArmClient& arm, const ServiceEnvironment& env,
                        std::function<void(std::string, std::string)> done) {
    if (!env.curated.empty()) {
        std::string id = curated_environment_id(env.curated);
        arm.client().loop().after(std::chrono::milliseconds(0), [done, id] { done(id, ""); });
        return;
    }
    std::string path = environment_version_path(arm.workspace(), env.name, env.version);
    std::string id = arm.id("/environments/" + env.name + "/versions/" + env.version);
    ArmClient* client = &arm;
    arm.call("GET", path, nullptr, [client, env, path, id, done](ArmAnswer answer) {
        if (answer.ok()) return done(id, "");
        if (answer.status != 404) return done("", "cannot read environment '" + env.name + "': " + answer.error);
        nlohmann::json body = {{"properties",
                                 {{"image", env.image},
                                  {"condaFile", env.conda_yaml},
                                  {"tags", {{kCreatedByTag, kCreatedByAmlflow}}}}}};
        client->call("PUT", path, body, [env, id, done](ArmAnswer put) {
            if (!put.ok()) return done("", "cannot register environment '" + env.name + "': " + put.error);
            done(id, "");
        });
    });
}

}  // namespace amlflow::runtime::azureml
