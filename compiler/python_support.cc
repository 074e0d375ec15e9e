#include "compiler/python_support.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include <nlohmann/json.hpp>

#include "compiler/stdlib_files.h"

namespace amlflow::compiler {

namespace {

constexpr std::string_view kDataFile = "data/python_support.json";

std::string normalized(std::string_view name) {
    std::string out;
    for (char c : name) out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

PythonLevel level_of(const std::string& text) {
    std::vector<int> numbers = version_numbers(text);
    return numbers.size() >= 2 ? numbers[0] * 100 + numbers[1] : 0;
}

// The embedded table; a broken table (a build from a bad edit) checks nothing rather than
// stopping the compiler.
PythonSupport load() {
    PythonSupport support;
    support.default_python = "3.10";
    std::string_view text;
    for (const EmbeddedFile& file : embedded_stdlib_files()) {
        if (file.path == kDataFile) text = file.content;
    }
    nlohmann::json data = nlohmann::json::parse(text, nullptr, false);
    if (!data.is_object()) return support;
    support.default_python = data.value("default_python", support.default_python);
    const nlohmann::json aliases = data.value("aliases", nlohmann::json::object());
    const nlohmann::json packages = data.value("packages", nlohmann::json::object());
    for (const auto& [alias, name] : aliases.items()) {
        if (name.is_string()) support.aliases[normalized(alias)] = normalized(name.get<std::string>());
    }
    for (const auto& [name, series] : packages.items()) {
        std::vector<ReleaseSeries>& list = support.packages[normalized(name)];
        for (const auto& [version, facts] : series.items()) {
            std::vector<int> numbers = version_numbers(version);
            const nlohmann::json python = facts.is_object() ? facts.value("python", nlohmann::json()) : nlohmann::json();
            if (numbers.size() < 2 || !python.is_array() || python.size() != 2 || !python[0].is_string() ||
                !python[1].is_string()) {
                continue;
            }
            list.push_back({numbers[0], numbers[1], level_of(python[0].get<std::string>()),
                            level_of(python[1].get<std::string>()), version_numbers(facts.value("latest", ""))});
        }
        std::sort(list.begin(), list.end(), [](const ReleaseSeries& a, const ReleaseSeries& b) {
            return std::tie(a.major, a.minor) < std::tie(b.major, b.minor);
        });
    }
    return support;
}

}  // namespace

std::string python_level_text(PythonLevel level) { return std::to_string(level / 100) + "." + std::to_string(level % 100); }

const std::vector<ReleaseSeries>* PythonSupport::find(std::string_view name, std::string* canonical) const {
    std::string key = normalized(name);
    if (auto alias = aliases.find(key); alias != aliases.end()) key = alias->second;
    auto found = packages.find(key);
    if (found == packages.end() || found->second.empty()) return nullptr;
    if (canonical) *canonical = key;
    return &found->second;
}

const PythonSupport& python_support() {
    static const PythonSupport support = load();
    return support;
}

std::vector<int> version_numbers(std::string_view version) {
    std::vector<int> out;
    size_t i = 0;
    while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i]))) {
        int number = 0;
        size_t digits = 0;
        while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i])) && digits < 6) {
            number = number * 10 + (version[i++] - '0');
            ++digits;
        }
        out.push_back(number);
        if (i + 1 < version.size() && version[i] == '.' && std::isdigit(static_cast<unsigned char>(version[i + 1]))) {
            ++i;
        } else {
            break;
        }
    }
    return out;
}

}  // namespace amlflow::compiler
