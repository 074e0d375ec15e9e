#include "editor/lsp/docs_table.h"

#include <map>

namespace amlflow::lsp {

namespace schema = compiler::schema;

const std::vector<BuiltinDoc>& builtin_docs() {
    static const std::vector<BuiltinDoc> docs = {
        {"env", "env(name) / env(name, default)",
         "The environment variable `name` when the file is checked, as a string; `default` when it is unset "
         "(without one, an unset variable is an error, a warning in a `workspace`)."},
        {"file", "file(path)",
         "A file that must exist, relative to this file's folder; its SHA-256 enters the hash of what uses it."},
        {"url", "url(text)", "Checks that `text` is a URL (https://, azureml://, wasbs://, abfss://, ...) and returns it."},
        {"glob", "glob(pattern)", "The paths matching a POSIX glob pattern, relative to this file's folder, sorted."},
        {"choice", "choice(v1, v2, ...)", "Search space: one of the values.", true},
        {"uniform", "uniform(low, high)", "Search space: a number drawn uniformly between low and high.", true},
        {"loguniform", "loguniform(low, high)",
         "Search space: a number whose logarithm is uniform between log(low) and log(high); 0 < low < high "
         "(the bounds themselves, not their logarithms).", true},
        {"quniform", "quniform(low, high, q)", "Search space: uniform, rounded to a multiple of q.", true},
        {"qloguniform", "qloguniform(low, high, q)", "Search space: log-uniform, rounded to a multiple of q.", true},
        {"normal", "normal(mu, sigma)", "Search space: normally distributed; sigma > 0.", true},
        {"lognormal", "lognormal(mu, sigma)", "Search space: a number whose logarithm is normal; sigma > 0.", true},
        {"randint", "randint(upper)", "Search space: an int from 0 to upper - 1.", true},
        {"maximize", "maximize(metric)", "A sweep objective: the trial with the highest `metric` is best.", false, true},
        {"minimize", "minimize(metric)", "A sweep objective: the trial with the lowest `metric` is best.", false, true},
    };
    return docs;
}

const BuiltinDoc* find_builtin(std::string_view name) {
    for (const BuiltinDoc& doc : builtin_docs()) {
        if (doc.name == name) return &doc;
    }
    return nullptr;
}

std::string keyword_markdown(std::string_view word) {
    static const std::map<std::string_view, std::string_view> docs = {
        {"import", "`import \"std/curated\"` or `import \"lib/common.amlflow\" as common`: another file's "
                   "declarations, used as `alias.name`. `std/...` modules are built into amlflow."},
        {"as", "`import \"path\" as alias`: the name an import's declarations are read through."},
        {"param", "`param name: type = default`: a typed value the command line can set with "
                  "`--set name=value`."},
        {"let", "`let name = value`: a named value, evaluated once."},
        {"workspace", "`workspace name { ... }`: an Azure Machine Learning workspace."},
        {"environment", "`environment name { ... }` or `environment name from base { ... }`: the software a "
                        "job runs with."},
        {"compute", "`compute name : local | hosts | amlcompute { ... }`: where jobs run."},
        {"experiment", "`experiment name { steps }`: a pipeline of steps; a run belongs to an experiment."},
        {"job", "`job name { ... }`, `job name(p: type = default) { ... }` (a template), or "
                "`job name = template(p = value) { ... }` (a binding): a training job."},
        {"sweep", "`sweep name over template { ... }`: hyperparameter tuning over a job template."},
        {"over", "`sweep name over template`: the job template whose parameters the sweep binds."},
        {"register", "`register model name { path = ... }`: registers a model version, with lineage."},
        {"model", "`register model name { path = ... }`: registers a model version, with lineage."},
        {"export", "`export onnx name { model = ..., input_shape = [...] }`: converts a PyTorch model to ONNX."},
        {"onnx", "`export onnx name { model = ..., input_shape = [...] }`: converts a PyTorch model to ONNX."},
        {"download", "`download name { path = ..., to = \"folder\" }`: copies step outputs to a local folder."},
        {"from", "`environment name from base { ... }`: copies `base` and overrides the fields given."},
        {"true", "The bool literal `true`."},
        {"false", "The bool literal `false`."},
    };
    auto found = docs.find(word);
    if (found == docs.end()) return "";
    return "**" + std::string(word) + "** (keyword)\n\n" + std::string(found->second);
}

std::string field_markdown(const compiler::BlockSpec& block, const compiler::FieldSpec& field) {
    std::string out = "**" + std::string(field.name) + "**: " + std::string(schema::describe(field.type));
    out += " — field of `" + std::string(block.name) + "`";
    if (field.required) out += " (required)";
    out += "\n\n" + std::string(field.doc);
    if (!field.choices.empty()) {
        out += "\n\nOne of:";
        for (std::string_view choice : field.choices) out += " `" + std::string(choice) + "`";
    }
    if (!field.default_text.empty()) out += "\n\nDefault: `" + std::string(field.default_text) + "`";
    if (field.min || field.max) {
        auto show = [](double v) {
            std::string s = std::to_string(v);
            s.erase(s.find_last_not_of('0') + 1);
            if (!s.empty() && s.back() == '.') s.pop_back();
            return s;
        };
        out += "\n\nRange: ";
        out += field.min ? show(*field.min) : std::string("…");
        out += " to ";
        out += field.max ? show(*field.max) : std::string("…");
    }
    return out;
}

std::string block_markdown(const compiler::BlockSpec& block) {
    std::string out = "**" + std::string(block.name) + "**\n\n" + std::string(block.doc);
    if (block.fields.empty()) return out;
    out += "\n\nFields:";
    for (const compiler::FieldSpec& field : block.fields) {
        out += " `" + std::string(field.name) + "`";
    }
    return out;
}

}  // namespace amlflow::lsp
