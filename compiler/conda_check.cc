#include "compiler/conda_check.h"

#include <algorithm>
#include <cctype>

#include "compiler/python_support.h"
#include "compiler/suggest.h"
#include "compiler/yaml_outline.h"

namespace amlflow::compiler {

namespace {

constexpr const char* kCode = "conda";
const char* kShapeHelp =
    "a conda environment file is a mapping such as:\n  name: train\n  channels:\n    - conda-forge\n  dependencies:\n"
    "    - python=3.10\n    - pip\n    - pip:\n      - torch==2.2.2";

// One constraint of a requirement: "==" "1.13.1".
struct Constraint {
    std::string op, version;
};

struct Requirement {
    std::string name;
    std::vector<Constraint> constraints;
    bool readable = true;  // false: alternatives ("|"), a URL: not judged
};

std::string trim(std::string_view text) {
    size_t b = 0, e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
    return std::string(text.substr(b, e - b));
}

// pip: "torch[extra]==1.13.1 ; python_version<'3.11'"; conda: "conda-forge::numpy=1.21.5=py39_0",
// "numpy 1.21.*", "python>=3.8,<3.11".
Requirement parse_requirement(std::string text, bool pip) {
    Requirement out;
    if (!pip) {
        if (size_t channel = text.find("::"); channel != std::string::npos) text = text.substr(channel + 2);
    } else if (size_t marker = text.find(';'); marker != std::string::npos) {
        text = text.substr(0, marker);
    }
    size_t i = 0;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '.' || text[i] == '_' ||
                               text[i] == '-')) {
        ++i;
    }
    out.name = text.substr(0, i);
    if (pip && i < text.size() && text[i] == '[') i = std::min(text.size(), text.find(']', i) + 1);
    std::string rest = trim(text.substr(std::min(i, text.size())));
    if (rest.find('|') != std::string::npos || rest.find('@') != std::string::npos || rest.find("://") != std::string::npos) {
        out.readable = false;
        return out;
    }
    if (!pip && rest.size() > 1 && rest[0] == '=' && rest[1] != '=') {
        std::string version = rest.substr(1);
        out.constraints.push_back({"=", version.substr(0, version.find('='))});  // "=1.21.5=py39_0": the build left out
        return out;
    }
    static const char* kOps[] = {"===", "==", "~=", "!=", "<=", ">=", "<", ">", "="};
    size_t at = 0;
    while (at <= rest.size() && !rest.empty()) {
        size_t comma = rest.find(',', at);
        std::string part = trim(rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (!part.empty()) {
            Constraint constraint{"=", part};  // conda's "numpy 1.21.*"
            for (const char* op : kOps) {
                if (part.rfind(op, 0) == 0) {
                    constraint = {op, trim(part.substr(std::string_view(op).size()))};
                    break;
                }
            }
            constraint.version = constraint.version.substr(0, constraint.version.find_first_of(" ="));
            out.constraints.push_back(constraint);
        }
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

bool is_pin(const Constraint& c) { return c.op == "==" || c.op == "===" || c.op == "="; }

// The Pythons a `python` requirement allows, as [low, high] levels; nullopt when it cannot be
// told (alternatives, no version).
std::optional<std::pair<PythonLevel, PythonLevel>> python_range(const Requirement& python) {
    if (!python.readable) return std::nullopt;
    PythonLevel low = 0, high = 9999;
    for (const Constraint& c : python.constraints) {
        std::vector<int> v = version_numbers(c.version);
        if (v.empty()) continue;
        PythonLevel level = v[0] * 100 + (v.size() > 1 ? v[1] : 0);
        bool minor_only = v.size() == 2 || (v.size() > 2 && v[2] == 0);
        if (is_pin(c) || c.op == "~=") {
            low = std::max(low, v.size() > 1 ? level : v[0] * 100);
            if (is_pin(c)) high = std::min(high, v.size() > 1 ? level : v[0] * 100 + 99);
        } else if (c.op == ">=" || c.op == ">") {
            low = std::max(low, level);
        } else if (c.op == "<") {
            high = std::min(high, minor_only ? level - 1 : level);
        } else if (c.op == "<=") {
            high = std::min(high, level);
        }
    }
    if (low == 0 && high == 9999) return std::nullopt;
    return std::make_pair(low, high);
}

std::string range_text(std::pair<PythonLevel, PythonLevel> range) {
    if (range.first == range.second) return python_level_text(range.first);
    if (range.second == 9999) return python_level_text(range.first) + " or later";
    if (range.first == 0) return python_level_text(range.second) + " or earlier";
    return python_level_text(range.first) + " to " + python_level_text(range.second);
}

std::string series_span(const std::vector<const ReleaseSeries*>& series) {
    if (series.empty()) return "";
    if (series.size() == 1) return series[0]->name();
    return series.front()->name() + " to " + series.back()->name();
}

struct Ask {
    std::pair<PythonLevel, PythonLevel> range;
    const CondaRequirements* all;
};

void check_python(const CondaRequirement& req, const std::string& package, const ReleaseSeries& series,
                  const std::vector<ReleaseSeries>& every, const Ask& ask, Diagnostics& diagnostics) {
    auto [low, high] = ask.range;
    if (high >= series.python_low && low <= series.python_high) return;
    Diagnostic& d = diagnostics.warning(kCode, req.range,
                                        "'" + req.text + "' cannot be installed with python " + range_text(ask.range));
    d.note(package + " " + series.name() + " supports python " + python_level_text(series.python_low) + " to " +
           python_level_text(series.python_high) + " (amlflow's table of well-known packages, docs/runtime.md)");
    if (!ask.all->python_note.empty()) d.note(ask.all->python_note);
    else d.note("python " + range_text(ask.range) + " is asked for here", ask.all->python->range);
    std::vector<const ReleaseSeries*> fitting;
    for (const ReleaseSeries& other : every) {
        if (high >= other.python_low && low <= other.python_high) fitting.push_back(&other);
    }
    PythonLevel other_python = low > series.python_high ? series.python_high : series.python_low;
    std::string help = fitting.empty() ? "" : package + " " + series_span(fitting) + " support python " + range_text(ask.range) + ", or ";
    d.help(help + "ask for python " + python_level_text(other_python) + ", which " + package + " " + series.name() +
           " supports");
}

// A pinned release of a listed package: one that exists, for the Python asked for.
void check_pin(const CondaRequirement& req, const Requirement& parsed, const std::optional<Ask>& ask,
               Diagnostics& diagnostics) {
    std::string package;
    const std::vector<ReleaseSeries>* every = python_support().find(parsed.name, &package);
    if (!every || !parsed.readable) return;
    for (const Constraint& c : parsed.constraints) {
        std::vector<int> v = version_numbers(c.version);
        if (!is_pin(c) || v.size() < 2) continue;
        auto series = std::find_if(every->begin(), every->end(),
                                   [&](const ReleaseSeries& s) { return s.major == v[0] && s.minor == v[1]; });
        std::string version = c.version.substr(0, c.version.find_first_of("*+"));
        while (!version.empty() && version.back() == '.') version.pop_back();
        if (series == every->end()) {
            auto after = std::find_if(every->begin(), every->end(), [&](const ReleaseSeries& s) {
                return std::tie(s.major, s.minor) > std::tie(v[0], v[1]);
            });
            if (after == every->begin() || after == every->end()) continue;  // outside what the table knows
            diagnostics.warning(kCode, req.range, "there is no " + package + " release " + version)
                .note(package + " went from " + std::prev(after)->name() + " to " + after->name());
            return;
        }
        if (v.size() >= 3 && series->latest.size() >= 3 && v[2] > series->latest[2]) {
            std::string last = std::to_string(series->latest[0]) + "." + std::to_string(series->latest[1]) + "." +
                               std::to_string(series->latest[2]);
            diagnostics.warning(kCode, req.range, "there is no " + package + " release " + version)
                .note("the last " + package + " " + series->name() + " release is " + last);
            return;
        }
        if (ask) check_python(req, package, *series, *every, *ask, diagnostics);
        return;
    }
}

}  // namespace

void check_conda_requirements(const CondaRequirements& requirements, Diagnostics& diagnostics) {
    std::optional<Ask> ask;
    if (requirements.python) {
        auto range = python_range(parse_requirement(requirements.python->text, requirements.python->pip));
        if (range) ask = Ask{*range, &requirements};
    }
    for (const CondaRequirement& req : requirements.packages) {
        check_pin(req, parse_requirement(req.text, req.pip), ask, diagnostics);
    }
}

namespace {

SourceRange place(const SourceFile& file, uint32_t begin, uint32_t end) {
    return {&file, begin, std::max(end, begin)};
}

void read_pip(const SourceFile& file, const YamlNode& key, const YamlNode& value, CondaRequirements& out,
              Diagnostics& diagnostics) {
    if (value.kind == YamlNode::Kind::Opaque) return;
    if (value.kind != YamlNode::Kind::Sequence) {
        SourceRange where = value.kind == YamlNode::Kind::Null ? place(file, key.begin, key.end) : place(file, value.begin, value.end);
        diagnostics.warning(kCode, where, "'pip' must be a list of requirements")
            .help("write each requirement as a list item under it:\n  - pip:\n    - torch==2.2.2");
        return;
    }
    for (const YamlNode& item : value.items) {
        if (item.kind == YamlNode::Kind::Scalar) {
            out.packages.push_back({item.text, place(file, item.begin, item.end), true});
        } else if (item.kind != YamlNode::Kind::Opaque) {
            diagnostics.warning(kCode, place(file, item.begin, item.end), "a pip requirement must be a string such as 'torch==2.2.2'");
        }
    }
}

void read_dependencies(const SourceFile& file, const YamlNode& list, CondaRequirements& out, Diagnostics& diagnostics) {
    for (const YamlNode& item : list.items) {
        if (item.kind == YamlNode::Kind::Opaque) continue;
        if (item.kind == YamlNode::Kind::Scalar) {
            CondaRequirement req{item.text, place(file, item.begin, item.end), false};
            std::string name = parse_requirement(item.text, false).name;
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            if (name == "python") out.python = req;
            else out.packages.push_back(req);
            continue;
        }
        if (item.kind == YamlNode::Kind::Mapping && item.entries.size() == 1 && item.entries[0].first.text == "pip") {
            read_pip(file, item.entries[0].first, item.entries[0].second, out, diagnostics);
            continue;
        }
        diagnostics.warning(kCode, place(file, item.begin, item.end),
                            "a conda dependency must be a package such as 'numpy=1.26' or 'pip:' with a list")
            .help(kShapeHelp);
    }
}

}  // namespace

CondaRequirements read_conda_file(const SourceFile& file, const std::string& environment, Diagnostics& diagnostics) {
    CondaRequirements out;
    std::string who = "conda file '" + file.path() + "' of environment '" + environment + "'";
    YamlOutline outline = read_yaml_outline(file.text());
    if (!outline.error.empty()) {
        diagnostics.warning(kCode, place(file, outline.error_at, outline.error_at + 1), "the " + who + " is not valid YAML: " + outline.error)
            .note("Azure ML cannot build an environment from it");
        return out;
    }
    if (!outline.root || outline.root->kind != YamlNode::Kind::Mapping) {
        SourceRange where = outline.root ? place(file, outline.root->begin, outline.root->end) : place(file, 0, 0);
        diagnostics.warning(kCode, where, "the " + who + " is not a conda environment").help(kShapeHelp);
        return out;
    }
    const YamlNode& root = *outline.root;
    static const std::vector<std::string> kKeys = {"name", "channels", "dependencies", "prefix", "variables"};
    for (const auto& [key, value] : root.entries) {
        if (std::find(kKeys.begin(), kKeys.end(), key.text) != kKeys.end()) continue;
        Diagnostic& d = diagnostics.warning(kCode, place(file, key.begin, key.end), "unknown key '" + key.text + "' in a conda environment");
        if (auto near = closest_name(key.text, kKeys)) d.help("did you mean '" + *near + "'?");
        else d.note("a conda environment has name, channels, dependencies, prefix and variables");
    }
    const YamlNode* channels = root.find("channels");
    if (channels && channels->kind != YamlNode::Kind::Opaque &&
        (channels->kind != YamlNode::Kind::Sequence ||
         std::any_of(channels->items.begin(), channels->items.end(),
                     [](const YamlNode& c) { return c.kind != YamlNode::Kind::Scalar && c.kind != YamlNode::Kind::Opaque; }))) {
        diagnostics.warning(kCode, place(file, channels->begin, channels->end), "'channels' must be a list of channel names");
    }
    const YamlNode* dependencies = root.find("dependencies");
    if (!dependencies) {
        diagnostics.warning(kCode, place(file, root.entries[0].first.begin, root.entries[0].first.end),
                            "the " + who + " has no 'dependencies' list")
            .help(kShapeHelp);
    } else if (dependencies->kind == YamlNode::Kind::Sequence) {
        read_dependencies(file, *dependencies, out, diagnostics);
    } else if (dependencies->kind != YamlNode::Kind::Opaque) {
        diagnostics.warning(kCode, place(file, dependencies->begin, dependencies->end), "'dependencies' must be a list")
            .help(kShapeHelp);
    }
    return out;
}

}  // namespace amlflow::compiler
