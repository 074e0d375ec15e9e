#include "runtime/azureml/job_inputs.h"

#include "runtime/core/host_list.h"  // shell_quote

#include "compiler/sha256.h"
#include "runtime/azureml/command_job.h"
#include "runtime/azureml/sweep_job.h"
#include "runtime/core/artifacts.h"
#include "runtime/core/value_text.h"

namespace amlflow::runtime::azureml {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool inside(const fs::path& path, const fs::path& folder) {
    fs::path relative = path.lexically_relative(folder);
    return !relative.empty() && *relative.begin() != "..";
}

std::string input_word(const std::string& name) { return "\"${{inputs." + name + "}}\""; }

}  // namespace

std::optional<JobInputs> JobInputs::collect(const AttemptRequest& request, const fs::path& source,
                                            const std::map<std::string, std::string>& remote_jobs,
                                            const fs::path& helper, std::string* error) {
    // A sweep's inputs are its trial's: the template job with the swept parameters as
    // references. The request is read only while collecting.
    if (request.step->kind == "sweep") {
        StepPlan trial = sweep_trial_template(*request.step);
        AttemptRequest as_trial = request;
        as_trial.step = &trial;
        auto out = collect(as_trial, source, remote_jobs, helper, error);
        if (out) out->request_ = nullptr;
        return out;
    }
    JobInputs out;
    out.request_ = &request;
    out.source_ = source.lexically_normal();
    out.remote_jobs_ = &remote_jobs;
    if (!helper.empty()) out.inputs_.push_back({kHelperInput, helper, false, ""});
    const json& spec = request.step->spec;
    const json args = spec.value("args", json::array());
    std::vector<const json*> words;
    if (spec.contains("command") && spec["command"].is_array()) {
        for (const json& part : spec["command"]) words.push_back(&part);
    }
    for (const json& arg : args) words.push_back(&arg);
    for (const json* word : words) {
        if (!word->is_object() || out.words_.count(word->dump())) continue;
        auto got = out.add(*word, "arg_" + std::to_string(out.inputs_.size()), error);
        if (!got && !error->empty()) return std::nullopt;
        if (got) out.words_[word->dump()] = *got;
    }
    const json named = spec.value("inputs", json::object());
    for (const auto& [name, value] : named.items()) {
        ArgumentContext context{request.results, request.plan_folder};
        auto got = value.is_object() ? out.add(value, "in_" + name, error) : std::nullopt;
        if (!got && !error->empty()) return std::nullopt;
        if (!got) {
            auto text = argument_text(value, context, error);
            if (!text) return std::nullopt;
            got = shell_quote(*text);
        }
        out.named_[name] = *got;
    }
    return out;
}

// The word of one path-like value, adding the input it needs; nullopt (and no error) for text.
std::optional<std::string> JobInputs::add(const json& value, const std::string& name, std::string* error) {
    error->clear();
    JobInput input;
    input.name = name;
    if (value.contains("$path") && value["$path"].is_string()) {
        std::string text = value["$path"].get<std::string>();
        if (text.find("://") != std::string::npos) return std::nullopt;
        fs::path local = fs::path(text).is_absolute() ? fs::path(text) : fs::path(request_->plan_folder) / text;
        local = local.lexically_normal();
        if (inside(local, source_)) return shell_quote(local.lexically_relative(source_).generic_string());
        std::error_code ec;
        if (!fs::exists(local, ec)) return shell_quote(text);  // nothing here to send
        input.local = local;
        input.file = !fs::is_directory(local, ec);
    } else if (is_output_reference(value)) {
        auto resolved = resolve_output(value, request_->results, error);
        if (!resolved) return std::nullopt;
        std::error_code ec;
        input.file = fs::is_regular_file(resolved->path, ec);
        std::vector<std::string> result = value["$output"].value("result", std::vector<std::string>{});
        auto job = remote_jobs_->find(resolved->step);
        if (job != remote_jobs_->end() && result == std::vector<std::string>{"outputs"}) {
            // Its job's ./outputs, read where the service keeps them: nothing travels.
            std::string sub = value["$output"].value("path", "");
            input.uri = "azureml://jobs/" + job->second + "/outputs/artifacts/paths/outputs" +
                        (sub.empty() ? "/" : "/" + sub);
        } else {
            input.local = resolved->path;
        }
    } else {
        return std::nullopt;
    }
    for (const JobInput& known : inputs_) {  // the same thing twice travels once
        if (known.local == input.local && known.uri == input.uri && known.file == input.file) {
            return input_word(known.name);
        }
    }
    inputs_.push_back(input);
    return input_word(name);
}

std::optional<std::string> JobInputs::word_for(const json& value) const {
    if (!value.is_object()) return std::nullopt;
    auto found = words_.find(value.dump());
    if (found == words_.end()) return std::nullopt;
    return found->second;
}

std::string JobInputs::exports() const {
    std::string out;
    for (const JobInput& input : inputs_) {
        if (input.name == kHelperInput) out += "export PYTHONPATH=\"${{inputs." + input.name + "}}${PYTHONPATH:+:$PYTHONPATH}\"; ";
    }
    for (const auto& [name, word] : named_) {
        std::string upper;
        for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out += "export AMLFLOW_INPUT_" + upper + "=" + word + "; ";
    }
    return out;
}

json JobInputs::body() const {
    json out = json::object();
    for (const JobInput& input : inputs_) {
        out[input.name] = {{"jobInputType", input.file ? "uri_file" : "uri_folder"},
                           {"uri", input.uri},
                           {"mode", input.file ? "Download" : "ReadOnlyMount"}};
    }
    return out;
}

namespace {

// A single file as a folder of its own (a hard link where it can be, else a copy), so it is
// found by its content hash as a folder is.
std::optional<fs::path> stage_file(const fs::path& file, const fs::path& files, std::string* error) {
    fs::path folder = files / compiler::sha256_hex(file.string()).substr(0, 16);
    fs::path staged = folder / file.filename();
    std::error_code ec;
    fs::remove_all(folder, ec);
    fs::create_directories(folder, ec);
    fs::create_hard_link(file, staged, ec);
    if (ec) {
        ec.clear();
        fs::copy_file(file, staged, fs::copy_options::overwrite_existing, ec);
    }
    if (ec) {
        *error = "cannot stage '" + file.string() + "' for upload: " + ec.message();
        return std::nullopt;
    }
    return folder;
}

void upload_next(ArmClient& arm, std::shared_ptr<JobInputs> inputs, size_t index, CodeRequest how,
                 fs::path files, std::function<void(std::string)> done) {
    auto& all = inputs->inputs();
    while (index < all.size() && !all[index].uri.empty()) ++index;
    if (index == all.size()) return done("");
    JobInput& input = all[index];
    std::string error;
    auto folder = input.file ? stage_file(input.local, files, &error) : std::optional<fs::path>(input.local);
    if (!folder) return done(error);
    how.folder = *folder;
    ensure_code(arm, how, [&arm, inputs, index, how, files, done](CodeOutcome outcome) {
        JobInput& input = inputs->inputs()[index];
        if (outcome.id.empty() || outcome.uri.empty()) {
            return done("cannot upload input '" + input.local.string() + "': " +
                        (outcome.error.empty() ? "the service gave no folder for it" : outcome.error));
        }
        std::string uri = outcome.uri;
        while (!uri.empty() && uri.back() == '/') uri.pop_back();
        input.uri = input.file ? uri + "/" + input.local.filename().string() : uri + "/";
        upload_next(arm, inputs, index + 1, how, files, done);
    });
}

}  // namespace

void upload_inputs(ArmClient& arm, std::shared_ptr<JobInputs> inputs, const CodeRequest& how, const fs::path& files,
                   std::function<void(std::string)> done) {
    upload_next(arm, std::move(inputs), 0, how, files, std::move(done));
}

}  // namespace amlflow::runtime::azureml
