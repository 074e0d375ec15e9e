// `a.b`: declarations inside an imported module, fields of a map, and the results of
// steps (`train.outputs`, `tune.best.params.lr`), which stay symbolic until the run.
#include <algorithm>
#include "compiler/checker.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

namespace {

Value output(const std::string& step, std::vector<std::string> members, std::string type) {
    Value v;
    v.kind = ValueKind::Output;
    ValueDetail& detail = v.detail();
    detail.step = step;
    detail.members = std::move(members);
    detail.type = std::move(type);
    return v;
}

std::string list_names(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
    return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> step_results(ast::StepKind kind) {
    switch (kind) {
        case ast::StepKind::Job: return {{"outputs", "path"}, {"logs", "path"}};
        case ast::StepKind::Sweep: return {{"best", "trial"}};
        case ast::StepKind::Register: return {{"path", "path"}, {"version", "int"}};
        case ast::StepKind::Export: return {{"outputs", "path"}, {"file", "path"}};
        case ast::StepKind::Download: return {{"path", "path"}};
    }
    return {};
}

const BlockSpec& step_schema(ast::StepKind kind) {
    switch (kind) {
        case ast::StepKind::Job: return schema::job();
        case ast::StepKind::Sweep: return schema::sweep();
        case ast::StepKind::Register: return schema::register_model();
        case ast::StepKind::Export: return schema::export_onnx();
        case ast::StepKind::Download: return schema::download();
    }
    return schema::job();
}

std::vector<std::pair<std::string, std::string>> trial_results() {
    return {{"outputs", "path"}, {"logs", "path"}, {"params", "the trial's parameters"}, {"metrics", "the trial's metrics"}};
}

Value Checker::member(const Value& object, const ast::Identifier& name, const ast::Expr& whole,
                      const EvalScope& scope) {
    if (object.kind == ValueKind::Ref && object.text.rfind("module:", 0) == 0) {
        size_t index = std::stoul(object.text.substr(7));
        const auto& table = symbols_[index];
        auto found = table.find(name.name);
        if (found != table.end() && found->second.kind != Symbol::Kind::Import) return value_of(found->second, name);
        std::vector<std::string> names;
        for (const auto& entry : table) names.push_back(entry.first);
        Diagnostic& d = diagnostics_.error("unknown-name", name.range,
                                           "module '" + label_of(index) + "' has no declaration '" + name.name + "'");
        if (auto near = closest_name(name.name, names)) d.help("did you mean '" + *near + "'?");
        return Value::error();
    }
    if (object.kind == ValueKind::Ref && object.text.rfind("step:", 0) == 0) {
        const StepSymbol& step = steps_.at(object.text.substr(5));
        return step_result(step, name, whole);
    }
    if (object.kind == ValueKind::Output) return output_member(object, name);
    if (object.kind == ValueKind::Map || object.kind == ValueKind::Object) {
        if (const Value* field = object.field(name.name)) return *field;
        std::vector<std::string> keys;
        for (const auto& field : object.fields) keys.push_back(field.first);
        Diagnostic& d = diagnostics_.error("unknown-name", name.range, "no key '" + name.name + "' in " + show_value(object));
        if (auto near = closest_name(name.name, keys)) d.help("did you mean '" + *near + "'?");
        return Value::error();
    }
    diagnostics_.error("type", name.range, "cannot read '" + name.name + "' of " + describe_kind(object))
        .note("'.' reads step results (train.outputs), imported declarations (curated.x) and map keys");
    return Value::error();
}

Value Checker::step_result(const StepSymbol& symbol, const ast::Identifier& name, const ast::Expr& whole) {
    const ast::Step& step = *symbol.step;
    if (step.kind == ast::StepKind::Job && step.is_template) {
        diagnostics_.error("template", whole.range,
                           "job '" + step.name.name + "' is a template: it has parameters and does not run on its own")
            .note("declared with parameters here", step.name.range)
            .help("use the results of a step that binds it: a sweep's 'best', or 'job x = " + step.name.name + "(...)'");
        return Value::error();
    }
    std::vector<std::string> names;
    for (const auto& [result, type] : step_results(step.kind)) {
        if (result == name.name) return output(step.name.name, {result}, type);
        names.push_back(result);
    }
    Diagnostic& d = diagnostics_.error("unknown-name", name.range, std::string(ast::step_kind_name(step.kind)) + " '" +
                                                                       step.name.name + "' has no result '" + name.name + "'");
    if (auto near = closest_name(name.name, names)) d.help("did you mean '" + *near + "'?");
    else d.note("its results are " + list_names(names));
    return Value::error();
}

// Members of a symbolic result: a sweep's best trial and its parameters and metrics.
Value Checker::output_member(const Value& object, const ast::Identifier& name) {
    std::vector<std::string> members = object.members();
    members.push_back(name.name);
    std::vector<std::string> names;
    if (object.type() == "trial") {
        names = {"outputs", "logs", "params", "metrics"};
        if (name.name == "outputs" || name.name == "logs") return output(object.step(), members, "path");
        if (name.name == "params") return output(object.step(), members, "params");
        if (name.name == "metrics") return output(object.step(), members, "metrics");
    } else if (object.type() == "params") {
        const ast::Step* sweep = steps_.at(object.step()).step;
        const ast::Step* job = sweep->target ? (steps_.count(sweep->target->name) ? steps_.at(sweep->target->name).step : nullptr) : nullptr;
        if (job == nullptr) return Value::error();
        for (const ast::JobParam& param : job->params) {
            if (param.name.name == name.name) return output(object.step(), members, param.type.name.name);
            names.push_back(param.name.name);
        }
    } else if (object.type() == "metrics") {
        return output(object.step(), members, "float");
    }
    std::string what = object.type() == "params" ? "parameter" : "result";
    Diagnostic& d = diagnostics_.error("unknown-name", name.range, "'" + show_value(object) + "' has no " + what + " '" + name.name + "'");
    if (auto near = closest_name(name.name, names)) d.help("did you mean '" + *near + "'?");
    else if (!names.empty()) d.note("it has " + list_names(names));
    return Value::error();
}

}  // namespace amlflow::compiler
