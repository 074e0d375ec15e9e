#include "compiler/plan_step.h"

#include <algorithm>

#include "compiler/checker.h"

namespace amlflow::compiler {

using nlohmann::json;

json fields_json(const Value& fields) {
    json out = json::object();
    for (const auto& [key, value] : fields.fields) out[key] = value_to_json(value);
    return out;
}

const char* step_kind_word(ast::StepKind kind) {
    switch (kind) {
        case ast::StepKind::Job: return "job";
        case ast::StepKind::Sweep: return "sweep";
        case ast::StepKind::Register: return "register";
        case ast::StepKind::Export: return "export";
        case ast::StepKind::Download: return "download";
    }
    return "step";
}

std::string source_node_name(const std::string& folder, const std::vector<std::string>& include) {
    std::string name = folder;
    if (!include.empty()) {
        name += " [";
        for (size_t i = 0; i < include.size(); ++i) name += (i ? ", " : "") + include[i];
        name += "]";
    }
    return name;
}

json hashed_fields(const json& rendered, const BlockSpec& spec) {
    json out = json::object();
    for (const auto& [key, value] : rendered.items()) {
        const FieldSpec* field = spec.find(key);
        if (field && field->in_hash) out[key] = value;
    }
    return out;
}

std::string hashed_members(std::string_view spec, const BlockSpec& schema) {
    // The text is compact JSON that compact_json wrote: an object of members `"key":value`,
    // separated by commas. A member ends at the first comma or closing brace outside any
    // string and any nested value.
    std::string out = "{";
    size_t at = 1;
    while (at < spec.size() && spec[at] != '}') {
        size_t start = at;
        size_t key_end = spec.find('"', at + 1);  // a field's name has no escapes
        std::string_view key = spec.substr(at + 1, key_end - at - 1);
        int depth = 0;
        bool in_string = false;
        for (at = key_end + 1; at < spec.size(); ++at) {
            char c = spec[at];
            if (in_string) {
                if (c == '\\') ++at;
                else if (c == '"') in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (depth-- == 0) break;
            } else if (c == ',' && depth == 0) {
                break;
            }
        }
        const FieldSpec* field = schema.find(key);
        if (field && field->in_hash) {
            if (out.size() > 1) out += ',';
            out.append(spec.substr(start, at - start));
        }
        if (at < spec.size() && spec[at] == ',') ++at;
    }
    return out + "}";
}

std::string quoted_json(const std::string& text) {
    bool plain = std::all_of(text.begin(), text.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte >= 0x20 && byte < 0x80 && c != '"' && c != '\\';
    });
    return plain ? '"' + text + '"' : compact_json(json(text));
}

std::string compact_json(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

void render_step(CheckedStep& step) {
    if (step.rendered) return;
    auto rendered = std::make_shared<RenderedStep>();
    json spec = fields_json(step.fields);
    if (!step.template_name.empty()) {
        json tmpl = {{"name", step.template_name}};
        if (step.kind == ast::StepKind::Sweep) {
            json declared = json::array();
            for (const auto& param : step.template_params) {
                json entry = {{"name", param.name}, {"type", param.type}};
                if (param.default_value) entry["default"] = value_to_json(*param.default_value);
                declared.push_back(entry);
            }
            tmpl["params"] = declared;
            tmpl["fields"] = fields_json(step.template_fields);
            rendered->hashed_template = compact_json(hashed_fields(tmpl["fields"], schema::job()));
            rendered->template_params = compact_json(declared);
        } else {
            json params = json::object();
            for (const auto& [name, value] : step.params) params[name] = value_to_json(value);
            tmpl["bound"] = params;
        }
        spec["$template"] = tmpl;
    }
    // The links to the nodes the step needs: a job's or a sweep's source snapshot is the
    // node of its folder (and `source_include`), which build_plan makes for every such step.
    if (!step.environment_id.empty()) spec["$environment"] = step.environment_id;
    bool snapshots = step.kind == ast::StepKind::Job || step.kind == ast::StepKind::Sweep;
    if (snapshots && !step.source_folder.empty()) {
        spec["$source"] = "source:" + source_node_name(step.source_folder, step.source_include);
    }
    if (!step.compute_id.empty()) spec["$compute"] = step.compute_id;
    rendered->spec = compact_json(spec);
    step.rendered = std::move(rendered);
    step.fields = Value{};
    step.template_fields = Value{};
    std::vector<std::pair<std::string, Value>>().swap(step.params);
    std::vector<CheckedStep::TemplateParam>().swap(step.template_params);
}

}  // namespace amlflow::compiler
