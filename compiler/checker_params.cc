// Params: their declared types, their defaults, and `--set name=value` overrides from
// the command line (shown in diagnostics as a source of their own, with a caret).
#include <algorithm>
#include "compiler/checker.h"
#include "compiler/parse_driver.h"
#include "compiler/suggest.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

std::optional<FieldSpec> Checker::type_spec(const ast::TypeRef& type, bool report) {
    const std::string& name = type.name.name;
    FieldSpec spec{"", FieldType::Any, false, "", ""};
    if (name == "int") spec.type = FieldType::Int;
    else if (name == "float") spec.type = FieldType::Float;
    else if (name == "bool") spec.type = FieldType::Bool;
    else if (name == "string") spec.type = FieldType::String;
    else if (name == "duration") spec.type = FieldType::Duration;
    else if (name == "size") spec.type = FieldType::Size;
    else if (name == "path") spec.type = FieldType::Path;
    else if (name == "list") {
        spec.type = FieldType::List;
        if (type.element) {
            const std::string& element = type.element->name.name;
            if (element == "int") spec.type = FieldType::IntList;
            else if (element == "string") spec.type = FieldType::StringList;
            else if (!type_spec(*type.element, report)) return std::nullopt;
        }
    } else {
        if (report) {
            std::vector<std::string> names;
            for (std::string_view t : schema::type_names()) names.emplace_back(t);
            Diagnostic& d = diagnostics_.error("unknown-name", type.name.range, "unknown type '" + name + "'");
            if (auto near = closest_name(name, names)) d.help("did you mean '" + *near + "'?");
            else d.note("the types are int, float, bool, string, duration, size, path and list[T]");
        }
        return std::nullopt;
    }
    if (spec.type != FieldType::List && spec.type != FieldType::IntList && spec.type != FieldType::StringList && type.element) {
        if (report) diagnostics_.error("type", type.element->range, "type '" + name + "' takes no element type");
        return std::nullopt;
    }
    return spec;
}

void Checker::apply_sets() {
    for (const std::string& set : options_.sets) {
        if (find_invalid_utf8(set)) {
            diagnostics_.error("set", {}, "a --set value is not valid UTF-8");
            continue;
        }
        auto source = std::make_shared<SourceFile>("--set", set);
        extra_sources_.push_back(source);
        size_t equals = set.find('=');
        if (equals == std::string::npos || equals == 0) {
            diagnostics_.error("set", {source.get(), 0, static_cast<uint32_t>(set.size())},
                               "--set expects name=value")
                .help("for example: --set epochs=3");
            continue;
        }
        std::string name = set.substr(0, equals);
        SourceRange name_range{source.get(), 0, static_cast<uint32_t>(equals)};
        auto found = symbols_[0].find(name);
        if (found == symbols_[0].end() || found->second.kind != Symbol::Kind::Param) {
            std::vector<std::string> params;
            for (const auto& [n, symbol] : symbols_[0]) {
                if (symbol.kind == Symbol::Kind::Param) params.push_back(n);
            }
            unknown_set(name, name_range, params);
            continue;
        }
        const ast::Decl& decl = *found->second.decl;
        auto spec = decl.has_type ? type_spec(decl.type, false) : std::optional<FieldSpec>();
        std::string text = set.substr(equals + 1);
        bool bare_text = spec && (spec->type == FieldType::String || spec->type == FieldType::Path) &&
                         (text.empty() || text[0] != '"');
        Value value;
        if (bare_text) {
            value = Value::of_string(text);
        } else {
            ast::ExprPtr expr = parse_expression(*source, static_cast<uint32_t>(equals + 1),
                                                 static_cast<uint32_t>(set.size()), diagnostics_);
            EvalScope scope;
            // A bare word is text the user meant as a value (`--set epochs=many`), not a name.
            if (expr->kind == ast::ExprKind::Name) value = Value::of_string(text);
            else value = expr->kind == ast::ExprKind::Error ? Value::error() : evaluator_.eval(*expr, scope);
        }
        if (value.kind == ValueKind::Error) continue;
        if (spec) {
            std::string why;
            auto converted = coerce_to_field(value, *spec, &why);
            if (!converted) {
                Diagnostic& d = diagnostics_.error("set", {source.get(), static_cast<uint32_t>(equals + 1), static_cast<uint32_t>(set.size())},
                                                   "param '" + name + "' is " + std::string(decl.type.range.text()) + ", not " + why);
                d.note("declared here", decl.name.range);
                std::string unit = missing_unit_help(spec->type, value, text);
                if (!unit.empty()) d.help(unit);
                continue;
            }
            value = *converted;
        }
        param_overrides_[name] = value;
    }
}

// `--set NAME=...` of a name that is no param of the main file. Every note names the file
// the --set applies to (several files may be checked at once), and a param of the same
// name in an imported file is shown: --set reaches only the main file's params.
void Checker::unknown_set(const std::string& name, SourceRange where, const std::vector<std::string>& params) {
    std::string main = "'" + modules_.modules[0]->ast->source->path() + "'";
    Diagnostic& d = diagnostics_.error("set", where, "unknown param '" + name + "'");
    for (size_t module = 1; module < symbols_.size(); ++module) {
        auto found = symbols_[module].find(name);
        if (found == symbols_[module].end() || found->second.kind != Symbol::Kind::Param) continue;
        d.note("'" + name + "' is a param of '" + modules_.modules[module]->ast->source->path() +
                   "', an imported file; --set sets only the params of " + main,
               found->second.decl->name.range);
        d.help("declare the param in " + main + " and pass its value on, or change its default where it is declared");
        return;
    }
    if (auto near = closest_name(name, params)) {
        d.note("--set sets the params of " + main, symbols_[0].at(*near).decl->name.range);
        d.help("did you mean '" + *near + "'?");
    } else if (params.empty()) {
        d.note(main + " declares no params");
    } else {
        std::string all;
        for (const std::string& p : params) all += (all.empty() ? "'" : ", '") + p + "'";
        d.note("the params of " + main + " are " + all);
    }
}

Value Checker::evaluate_param(const Symbol& symbol) {
    Lazy& lazy = lazy_[symbol.id];
    if (lazy.state == Lazy::State::Done) return lazy.value;
    if (lazy.state == Lazy::State::Busy) {
        diagnostics_.error("cycle", symbol.decl->name.range, "param '" + symbol.decl->name.name + "' is defined in terms of itself");
        return Value::error();
    }
    lazy.state = Lazy::State::Busy;
    const ast::Decl& decl = *symbol.decl;
    auto spec = decl.has_type ? type_spec(decl.type, true) : std::optional<FieldSpec>();
    Value value;
    if (decl.broken) {
        value = Value::error();  // its syntax error is reported
    } else if (symbol.module == 0 && param_overrides_.count(decl.name.name)) {
        value = param_overrides_.at(decl.name.name);
    } else if (decl.value) {
        EvalScope scope;
        scope.module = symbol.module;
        value = evaluator_.eval(*decl.value, scope);
        std::string why;
        if (spec && value.kind != ValueKind::Error) {
            if (auto converted = coerce_to_field(value, *spec, &why)) {
                value = *converted;
            } else {
                Diagnostic& d = diagnostics_.error("type", decl.value->range, "param '" + decl.name.name + "' is declared " +
                                                                                  std::string(decl.type.range.text()) + " but its default is " + why);
                std::string unit = missing_unit_help(spec->type, value, decl.value->range.text());
                if (!unit.empty()) d.help(unit);
                value = Value::error();
            }
        }
    } else {
        diagnostics_.error("missing-field", decl.name.range, "param '" + decl.name.name + "' has no default and is not set")
            .help("give it one ('param " + decl.name.name + ": " + std::string(decl.type.range.text()) +
                  " = ...') or set it: --set " + decl.name.name + "=...");
        value = Value::error();
    }
    Lazy& done = lazy_[symbol.id];
    done.state = Lazy::State::Done;
    done.value = value;
    return value;
}

}  // namespace amlflow::compiler
