// The steps that act on other steps' results rather than train: `register model`
// (a content-addressed copy in the store's registry, versioned per name, with lineage, and
// a version in the workspace's registry when the model came from a job on Azure ML),
// `download` (a copy into a folder beside the file) and `export onnx` (the stdlib's
// exporter run as a one-process job in the step's environment).
#include <fstream>
#include <sstream>

#include "runtime/exec/executor.h"

namespace amlflow::runtime {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string shown(const fs::path& path) { return "'" + path.string() + "'"; }

// The registry keeps one copy per content: objects/<sha256>/<the file's name>. Copied
// beside, then renamed into place: the registry never holds half a model. The same
// content under another file name shares the object folder.
std::optional<fs::path> add_to_registry(const fs::path& registry, const fs::path& source, const std::string& hash,
                                        std::string* error) {
    fs::path object = registry / "objects" / hash;
    fs::path copy = object / source.filename();
    std::error_code ec;
    if (fs::exists(copy, ec)) return copy;
    fs::path partial = object.string() + "." + source.filename().string() + ".partial";
    fs::remove_all(partial, ec);
    if (!copy_confined(source, partial, false, error)) {
        fs::remove_all(partial, ec);
        *error = "cannot copy the model into the registry: " + *error;
        return std::nullopt;
    }
    fs::create_directories(object, ec);
    fs::rename(partial, copy, ec);
    if (ec) fs::remove_all(partial, ec);
    if (!fs::exists(copy, ec)) {
        *error = "cannot add " + copy.string() + " to the registry";
        return std::nullopt;
    }
    return copy;
}

// A path written as an interpolated string: "${train.outputs}/model.pt" is the same
// path as train.outputs / "model.pt" (a result, confined to that step's folder); any
// other interpolation is a path relative to the file's folder, resolved as text.
json as_path_value(const json& value) {
    if (!value.is_object() || !value.contains("$format") || !value["$format"].is_array()) return value;
    const json& parts = value["$format"];
    if (parts.empty() || !is_output_reference(parts[0])) return value;
    std::string rest;
    for (size_t i = 1; i < parts.size(); ++i) {
        if (!parts[i].is_string()) return value;
        rest += parts[i].get<std::string>();
    }
    json reference = parts[0];
    std::string path = reference["$output"].value("path", "");
    while (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
    if (!rest.empty()) path = path.empty() ? rest : path + "/" + rest;
    reference["$output"]["path"] = path;
    return reference;
}

}  // namespace

// Register and download run inside amlflow, at once: recorded as started so that their
// times show in `runs show` and reports like any step's.
void Executor::begin_action(StepRun& step) {
    step.started_ms = wall_ms();
    store_.set_step_state(run_id_, step.plan->name, StepState::Running);
}

ArgumentContext Executor::text_context() const { return ArgumentContext{results_, ""}; }

std::optional<ResolvedOutput> Executor::resolve_path_field(const StepRun& step, const char* field, std::string* error) {
    json value = as_path_value(step.plan->spec.value(field, json()));
    if (is_output_reference(value)) {
        auto resolved = resolve_output(value, results_, error);
        if (resolved && !require_inside(resolved->path, resolved->root, resolved->shown, error)) return std::nullopt;
        return resolved;
    }
    // A plain path: relative to the file's folder, and it must stay there.
    std::string text;
    if (value.is_object() && value.contains("$path")) {
        text = value["$path"].get<std::string>();
    } else if (auto resolved = argument_text(value, text_context(), error)) {
        text = *resolved;
    } else {
        *error = "'" + std::string(field) + "': " + *error;
        return std::nullopt;
    }
    if (!is_contained_relative(text)) {
        *error = "'" + text + "' leaves the folder of the file: give a path inside it";
        return std::nullopt;
    }
    ResolvedOutput resolved;
    std::error_code ec;
    resolved.root = fs::absolute(options_.plan_folder, ec).lexically_normal();
    resolved.path = (resolved.root / text).lexically_normal();
    resolved.shown = "\"" + text + "\"";
    if (!require_inside(resolved.path, resolved.root, resolved.shown, error)) return std::nullopt;
    return resolved;
}

void Executor::run_register(StepRun& step) {
    begin_action(step);
    std::string error;
    auto source = resolve_path_field(step, "path", &error);
    if (!source) return fail_step(step, error);
    // Every string the checker accepted, interpolations included, as text before
    // anything is copied or recorded.
    auto name = text_field(step.plan->spec, "name", step.plan->name, text_context(), &error);
    auto description = text_field(step.plan->spec, "description", "", text_context(), &error);
    auto tags = name && description ? resolve_runtime_text(step.plan->spec.value("tags", json::object()), text_context(), &error)
                                    : std::nullopt;
    if (!tags) return fail_step(step, error);
    auto digest = content_digest(source->path, &error);
    if (!digest) return fail_step(step, error);
    auto copy = add_to_registry(store_.registry_folder(), source->path, digest->hash, &error);
    if (!copy) return fail_step(step, error);
    NewModel model;
    model.name = *name;
    model.hash = digest->hash;
    model.path = *copy;
    model.bytes = digest->bytes;
    model.run_id = run_id_;
    model.step = step.plan->name;
    const auto& producer = results_[source->step];
    bool best = producer.count("best.name") && source->shown.find(".best.") != std::string::npos;
    model.source_step = best ? producer.at("best.name") : source->step;
    std::string origin_run = producer.count(best ? "best.run" : "run") ? producer.at(best ? "best.run" : "run") : run_id_;
    std::string origin_step = producer.count(best ? "best.step" : "step") ? producer.at(best ? "best.step" : "step") : model.source_step;
    std::string attempt = producer.count(best ? "best.attempt" : "attempt") ? producer.at(best ? "best.attempt" : "attempt") : "0";
    model.source_attempt = std::atoi(attempt.c_str());
    model.description = *description;
    model.tags_json = tags->dump(-1, ' ', false, json::error_handler_t::replace);
    json metrics = json::object();
    if (auto recorded = store_.metrics_of(origin_run, origin_step)) {
        for (const MetricRecord& metric : *recorded) {
            if (metric.rank == 0 && metric.attempt == model.source_attempt) metrics[metric.name] = metric.value;
        }
    }
    model.metrics_json = metrics.dump(-1, ' ', false, json::error_handler_t::replace);
    // A job that ran remotely: the model is registered in its place's registry too (an Azure
    // ML workspace), from the files the job left there, before the local record.
    auto place = remote_files(as_path_value(step.plan->spec.value("path", json())), *source);
    if (!place) return finish_register(step, model, {});
    register_in_place(step, model, *place, source->path, *tags);
}

// The model version in the place's registry first; the local record once it answered.
void Executor::register_in_place(StepRun& step, const NewModel& model, const FilesFetch& place, const fs::path& local,
                                 const json& tags) {
    ModelRegistration registration;
    registration.name = model.name;
    registration.job = place.job;
    registration.path = place.path;
    registration.local = local.string();
    registration.digest = model.hash;
    registration.description = model.description;
    for (auto it = tags.begin(); it != tags.end(); ++it) {
        registration.tags[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
    registration.tags["amlflow.run"] = run_id_;
    registration.tags["amlflow.step"] = model.source_step;
    registration.compute = place.compute;
    registration.plan_folder = place.plan_folder;
    std::string step_name = step.plan->name;
    step.state = StepState::Running;  // until the place answers
    show(step, "registering");
    backend_.register_model(registration, [this, step_name, model, place](PlaceModel placed) {
        StepRun* registering = find(step_name);
        if (!registering || registering->state != StepState::Running) return;
        if (canceling_) return finish_step(*registering, StepState::Canceled);
        if (!placed.error.empty()) return fail_step(*registering, placed.error);
        reporter_.note(placed.shown + (placed.existing ? ": already registered with identical content" : ": registered"));
        NewModel kept = model;
        kept.workspace_json = placed.record.dump(-1, ' ', false, json::error_handler_t::replace);
        finish_register(*registering, kept, {{"job", place.job}, {"job.path", place.path}});
    });
}

// The local record of a registration (and of where else it lives), then the step's results.
void Executor::finish_register(StepRun& step, NewModel model, std::map<std::string, std::string> place) {
    auto record = store_.add_model(model);
    if (!record) return fail_step(step, store_.last_error());
    reporter_.note("model '" + record->name + "' version " + std::to_string(record->version) +
                   (record->existing ? ": already registered with identical content" : ": registered"));
    json summary = {{"name", record->name}, {"version", record->version}, {"hash", record->hash}, {"existing", record->existing}};
    if (!model.workspace_json.empty()) summary["workspace"] = json::parse(model.workspace_json, nullptr, false);
    std::map<std::string, std::string> results = {
        {"name", record->name}, {"version", std::to_string(record->version)}, {"path", model.path.string()}};
    results.insert(place.begin(), place.end());
    succeed(step, results, {{"model", summary}});
}

void Executor::run_download(StepRun& step) {
    begin_action(step);
    std::string error;
    auto source = resolve_path_field(step, "path", &error);
    if (!source) return fail_step(step, error);
    const json& to = step.plan->spec.value("to", json());
    std::string to_text;
    if (to.is_object() && to.contains("$path")) {
        to_text = to["$path"].get<std::string>();
    } else if (auto text = argument_text(to, text_context(), &error)) {
        to_text = *text;
    } else {
        return fail_step(step, "'to': " + error);
    }
    if (to_text.empty() || !is_contained_relative(to_text)) {
        return fail_step(step, "the destination '" + to_text + "' leaves the folder of the file: give a path inside it");
    }
    std::error_code ec;
    fs::path root = fs::absolute(options_.plan_folder, ec).lexically_normal();
    fs::path destination = (root / to_text).lexically_normal();
    // An existing part of the destination may be a symlink: it must not lead out.
    fs::path existing = destination;
    while (!existing.empty() && existing != root && !fs::exists(existing, ec)) existing = existing.parent_path();
    fs::path real_root = fs::canonical(root, ec);
    fs::path real = fs::canonical(existing, ec);
    auto [r, p] = std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
    if (ec || r != real_root.end()) {
        return fail_step(step, "the destination " + shown(destination) + " leads outside the folder of the file (" +
                                   real.string() + ")");
    }
    bool is_file = fs::is_regular_file(source->path, ec);
    fs::path target = is_file ? destination / source->path.filename() : destination;
    if (!copy_confined(source->path, target, step.plan->spec.value("overwrite", false), &error)) {
        return fail_step(step, error);
    }
    auto digest = content_digest(target, &error);
    if (!digest) return fail_step(step, error);
    reporter_.note("downloaded " + source->shown + " to " + target.string() + " (" + std::to_string(digest->files) +
                   (digest->files == 1 ? " file, " : " files, ") + std::to_string(digest->bytes) +
                   (digest->bytes == 1 ? " byte)" : " bytes)"));
    succeed(step, {{"to", target.string()}, {"path", target.string()}}, {{"digest", digest->hash}, {"files", digest->files}, {"bytes", digest->bytes}});
}

void Executor::start_export(StepRun& step) {
    std::string error;
    auto model = resolve_path_field(step, "model", &error);
    if (!model) return fail_step(step, error);
    // The exporter reads plain JSON: interpolated names and axes resolved first.
    auto resolved_spec = resolve_runtime_text(step.plan->spec, text_context(), &error);
    if (!resolved_spec) return fail_step(step, error);
    const json& spec = *resolved_spec;
    fs::path folder = store_.run_folder(run_id_) / step.plan->name;
    fs::path outputs = store_.step_outputs(run_id_, step.plan->name);
    fs::path onnx = outputs / (model->path.stem().string() + ".onnx");
    json exporter = {{"model", model->path.string()},
                     {"output", onnx.string()},
                     {"input_shape", spec.value("input_shape", json::array())},
                     {"opset", spec.value("opset", 13)},
                     {"input_names", spec.value("input_names", json::array({"input"}))},
                     {"output_names", spec.value("output_names", json::array({"output"}))},
                     {"dynamic_axes", spec.value("dynamic_axes", json::object())}};
    if (spec.contains("factory")) {
        exporter["factory"] = spec["factory"];
        // The factory's module lives with the code of the step that trained the model.
        const StepPlan* producer = plan_.find(model->step);
        std::string source = producer ? producer->source : "";
        std::error_code ec;
        exporter["factory_path"] = (fs::absolute(options_.plan_folder, ec) / source).lexically_normal().string();
    }
    fs::path spec_file = folder / "export-spec.json";
    {
        std::ofstream out(spec_file);
        out << exporter.dump(2) << "\n";
        if (!out) return fail_step(step, "cannot write " + shown(spec_file));
    }
    if (options_.python_lib.empty()) return fail_step(step, "amlflow's Python helpers are not installed in the store");
    if (!prepare_environment(step.plan->environment, &error)) return fail_step(step, "cannot start: " + error);
    // The exporter runs as a one-process job named like the step, so its attempts,
    // logs and retries are recorded like any other.
    StepPlan& process = made_plans_.emplace_back(*step.plan);
    process.spec = json::object();
    process.spec["command"] = json::array({interpreter_of(step.plan->environment),
                                           (fs::path(options_.python_lib) / "amlflow_onnx_export.py").string(), "--spec",
                                           spec_file.string(), "--result", (folder / "export-result.json").string()});
    for (const char* field : {"timeout", "restarts", "retry"}) {
        if (spec.contains(field)) process.spec[field] = spec[field];
    }
    step.plan = &process;
    step.action = "export";
    step.slots = 1;
    if (can_start(step)) start_step(step);
}

void Executor::export_done(StepRun& step) {
    fs::path folder = store_.run_folder(run_id_) / step.plan->name;
    std::ifstream in(folder / "export-result.json");
    std::stringstream text;
    text << in.rdbuf();
    json result = json::parse(text.str(), nullptr, false);
    if (result.is_discarded() || !result.is_object() || !result.value("ok", false) || !result["onnx"].is_string()) {
        std::string why = result.is_object() && result["error"].is_string() ? result["error"].get<std::string>()
                                                                            : "it ended without a report of the ONNX file it wrote";
        return fail_step(step, "the ONNX exporter failed: " + why);
    }
    const json& check = result.value("numeric_check", json::object());
    std::string numeric = check.value("ran", false)
                              ? "outputs match PyTorch's (max abs diff " + check.value("max_abs_diff", json()).dump() + ")"
                              : check.value("reason", std::string("numeric check skipped"));
    reporter_.note("exported " + result["onnx"].get<std::string>() + ": onnx.checker passed; " + numeric);
    succeed(step, {{"outputs", store_.step_outputs(run_id_, step.plan->name).string()},
                   {"file", result["onnx"].get<std::string>()},
                   {"logs", (folder / "logs").string()},
                   {"run", run_id_},
                   {"step", step.plan->name},
                   {"attempt", std::to_string(step.attempt)}},
            {{"export", result}});
}

}  // namespace amlflow::runtime
