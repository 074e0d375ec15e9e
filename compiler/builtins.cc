// The built-in functions: env, file, url, glob, the search-space functions and the
// sweep objectives. Part of the Evaluator.
#include <algorithm>
#include <set>
#include <glob.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "compiler/evaluator.h"
#include "compiler/sha256.h"
#include "compiler/suggest.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

namespace fs = std::filesystem;

namespace {

// Whether an environment variable's name says it holds a secret: a word of it (split at
// '_') is SECRET, TOKEN, PASSWORD, ..., or two words make API_KEY, ACCESS_KEY, ...
bool looks_secret(const std::string& name) {
    std::vector<std::string> words;
    std::string word;
    for (char c : name + "_") {
        if (c == '_' || c == '-') {
            if (!word.empty()) words.push_back(word);
            word.clear();
        } else {
            word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    static const std::set<std::string> alone = {"SECRET", "SECRETS", "TOKEN", "TOKENS", "PASSWORD", "PASSWD",
                                                "CREDENTIAL", "CREDENTIALS", "SAS", "APIKEY", "PASSPHRASE"};
    static const std::set<std::pair<std::string, std::string>> pairs = {
        {"API", "KEY"}, {"ACCESS", "KEY"}, {"ACCOUNT", "KEY"}, {"PRIVATE", "KEY"}, {"CONNECTION", "STRING"}, {"SECRET", "KEY"}};
    for (size_t i = 0; i < words.size(); ++i) {
        if (alone.count(words[i])) return true;
        if (i + 1 < words.size() && pairs.count({words[i], words[i + 1]})) return true;
    }
    return false;
}

const std::vector<std::string>& function_names() {
    static const std::vector<std::string> names = {
        "env", "file", "url", "glob", "choice", "uniform", "loguniform", "quniform",
        "qloguniform", "normal", "lognormal", "randint", "maximize", "minimize"};
    return names;
}

bool is_search_function(const std::string& name) {
    return name == "choice" || name == "uniform" || name == "loguniform" || name == "quniform" ||
           name == "qloguniform" || name == "normal" || name == "lognormal" || name == "randint";
}

// Hashes a file in chunks; nullopt when it can't be read.
std::optional<std::string> hash_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    Sha256 hash;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) hash.update(buffer, static_cast<size_t>(in.gcount()));
    return hash.hex_digest();
}

// `pytorch(processes_per_node = 2)`: a distribution or an early-stop policy is built with
// braces, not called. The help rewrites the call as it should be written.
std::string construct_help(const ast::Expr& call) {
    const std::string& name = call.name.name;
    bool distribution = schema::distribution(name) != nullptr;
    if (!distribution && schema::early_stop(name) == nullptr) return "";
    std::string fields;
    for (const ast::Arg& arg : call.args) {
        if (!arg.name) {
            fields = "...";
            break;
        }
        fields += (fields.empty() ? "" : ", ") + arg.name->name + " = " + std::string(arg.value->range.text());
    }
    return std::string("'") + name + "' is " + (distribution ? "a distribution" : "an early-stop policy") +
           ", written with braces: " + name + " { " + (fields.empty() ? "" : fields + " ") + "}";
}

}  // namespace

std::string Evaluator::rebase_path(size_t module, const std::string& path) const {
    fs::path written(path);
    if (written.is_absolute()) return written.lexically_normal().generic_string();
    if (module == 0) {
        std::string normal = written.lexically_normal().generic_string();
        return normal.empty() ? "." : normal;
    }
    fs::path full = (resolver_.folder_of(module) / written).lexically_normal();
    return full.lexically_relative(resolver_.folder_of(0)).generic_string();
}

Value Evaluator::eval_call(const ast::Expr& expr, const EvalScope& scope) {
    const std::string& name = expr.name.name;
    if (std::find(function_names().begin(), function_names().end(), name) == function_names().end()) {
        Diagnostic& d = diagnostics_.error("unknown-name", expr.name.range, "unknown function '" + name + "'");
        if (std::string braces = construct_help(expr); !braces.empty()) d.help(braces);
        else if (auto near = closest_name(name, function_names())) d.help("did you mean '" + *near + "'?");
        return Value::error();
    }
    EvalScope inner = scope;
    inner.field = nullptr;
    std::vector<Value> args;
    for (const ast::Arg& arg : expr.args) {
        if (arg.name) {
            diagnostics_.error("type", arg.name->range, "'" + name + "' takes no named arguments");
            return Value::error();
        }
        args.push_back(eval(*arg.value, inner));
        if (args.back().kind == ValueKind::Error) return Value::error();
    }
    auto want = [&](size_t low, size_t high) {
        if (args.size() >= low && args.size() <= high) return true;
        std::string count = low == high ? std::to_string(low) : std::to_string(low) + " to " + std::to_string(high);
        diagnostics_.error("type", expr.range, "'" + name + "' takes " + count + " argument" +
                                                   (high == 1 ? "" : "s") + ", given " + std::to_string(args.size()));
        return false;
    };
    auto want_string = [&](size_t i) {
        if (args[i].kind == ValueKind::String || args[i].kind == ValueKind::Path) return true;
        diagnostics_.error("type", expr.args[i].range, "'" + name + "' expects a string here, found " + describe_kind(args[i]));
        return false;
    };
    if (is_search_function(name)) return eval_search_space(expr, args);
    if (name == "maximize" || name == "minimize") {
        if (!want(1, 1) || !want_string(0)) return Value::error();
        Value objective;
        objective.kind = ValueKind::Object;
        objective.text = name;
        objective.fields.emplace_back("metric", Value::of_string(args[0].text));
        return objective;
    }
    if (name == "env") {
        if (!want(1, 2) || !want_string(0)) return Value::error();
        if (const char* set = std::getenv(args[0].text.c_str())) {
            if (find_invalid_utf8(set)) {
                diagnostics_.error("invalid-value", expr.range, "environment variable '" + args[0].text + "' is not valid UTF-8");
                return Value::error();
            }
            if (looks_secret(args[0].text)) {
                diagnostics_.warning("secret-env", expr.range,
                                     "the value of '" + args[0].text + "' looks like a secret, and would be written into the "
                                     "plan, the run store and every rank's environment")
                    .help("leave it out of the file: ranks inherit amlflow's environment, and amlflow reads Azure "
                          "credentials (AZURE_CLIENT_SECRET, ...) from it itself");
            }
            return Value::of_string(set);
        }
        if (args.size() == 2) return args[1];
        if (!scope.unset_env_is_warning) {
            diagnostics_.error("unset-env", expr.range, "environment variable '" + args[0].text + "' is not set")
                .help("set it, or give a default: env(\"" + args[0].text + "\", \"...\")");
            return Value::error();
        }
        diagnostics_.warning("unset-env", expr.range, "environment variable '" + args[0].text + "' is not set")
            .note("the workspace cannot be reached until it is");
        Value unset;
        unset.kind = ValueKind::Unset;
        unset.text = args[0].text;
        return unset;
    }
    const fs::path& folder = resolver_.folder_of(scope.module);
    if (name == "file") {
        if (!want(1, 1) || !want_string(0)) return Value::error();
        fs::path path = fs::path(args[0].text).is_absolute() ? fs::path(args[0].text) : folder / args[0].text;
        std::error_code error;
        if (!fs::is_regular_file(path, error)) {
            diagnostics_.error("missing-file", expr.args[0].range,
                               "file '" + args[0].text + "' does not exist")
                .note("looked for '" + path.lexically_normal().string() + "'");
            return Value::error();
        }
        auto digest = hash_file(path);
        if (!digest) {
            diagnostics_.error("missing-file", expr.args[0].range, "file '" + args[0].text + "' cannot be read");
            return Value::error();
        }
        return Value::of_path(rebase_path(scope.module, args[0].text), *digest);
    }
    if (name == "url") {
        if (!want(1, 1) || !want_string(0)) return Value::error();
        static const std::regex kUrl(R"(^(https?|azureml|wasbs?|abfss?|adl)://[^\s/$.?#][^\s]*$)");
        if (!std::regex_match(args[0].text, kUrl)) {
            diagnostics_.error("invalid-value", expr.args[0].range, "'" + args[0].text + "' is not a URL")
                .help("a URL starts with https://, azureml://, wasbs:// or abfss://");
            return Value::error();
        }
        return Value::of_string(args[0].text);
    }
    // glob
    if (!want(1, 1) || !want_string(0)) return Value::error();
    std::string pattern = (folder / args[0].text).string();
    glob_t found{};
    std::vector<Value> paths;
    if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &found) == 0) {
        std::vector<std::string> names(found.gl_pathv, found.gl_pathv + found.gl_pathc);
        std::sort(names.begin(), names.end());
        for (const std::string& match : names) {
            if (find_invalid_utf8(match)) continue;  // a name the plan's JSON could not hold
            std::string relative = fs::path(match).lexically_relative(folder).generic_string();
            paths.push_back(Value::of_path(rebase_path(scope.module, relative)));
        }
    }
    globfree(&found);
    return Value::list(std::move(paths));
}

Value Evaluator::eval_search_space(const ast::Expr& expr, const std::vector<Value>& args) {
    const std::string& name = expr.name.name;
    Value space;
    space.kind = ValueKind::Object;
    space.text = name;
    auto bad = [&](const std::string& message) {
        diagnostics_.error("search-space", expr.range, message);
        return Value::error();
    };
    if (name == "choice") {
        if (args.empty()) return bad("'choice' needs at least one value");
        space.fields.emplace_back("values", Value::list(args));
        return space;
    }
    if (name == "randint") {
        if (args.size() != 1 || args[0].kind != ValueKind::Int) return bad("'randint' takes one int: the exclusive upper bound");
        if (args[0].number < 1) return bad("'randint' needs an upper bound of at least 1");
        space.fields.emplace_back("upper", args[0]);
        return space;
    }
    bool quantized = name[0] == 'q';
    size_t arity = quantized ? 3 : 2;
    if (args.size() != arity) {
        return bad("'" + name + "' takes " + std::to_string(arity) + " numbers, given " + std::to_string(args.size()));
    }
    for (size_t i = 0; i < args.size(); ++i) {
        if (!args[i].is_number()) {
            diagnostics_.error("type", expr.args[i].range, "'" + name + "' expects a number here, found " + describe_kind(args[i]));
            return Value::error();
        }
    }
    double a = args[0].as_double(), b = args[1].as_double();
    bool normal = name == "normal" || name == "lognormal";
    if (normal && b <= 0) return bad("'" + name + "' needs a positive standard deviation");
    if (!normal && a >= b) return bad("'" + name + "' needs its low bound below its high bound");
    if ((name == "loguniform" || name == "qloguniform") && a <= 0) {
        diagnostics_.error("search-space", expr.args[0].range, "'" + name + "' needs a positive low bound")
            .note("it draws values whose logarithm is uniform, so both bounds must be above zero");
        return Value::error();
    }
    if (quantized && args[2].as_double() <= 0) return bad("'" + name + "' needs a positive step q");
    space.fields.emplace_back(normal ? "mu" : "low", Value::of_float(a));
    space.fields.emplace_back(normal ? "sigma" : "high", Value::of_float(b));
    if (quantized) space.fields.emplace_back("q", Value::of_float(args[2].as_double()));
    return space;
}

}  // namespace amlflow::compiler
