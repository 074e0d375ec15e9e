// Which Python versions the release series of well-known packages support: the table in
// stdlib/data/python_support.json (embedded in the binary), read once. conda_check.h uses it
// to warn where an Azure ML environment's conda YAML cannot resolve. Knowledge of packages
// lives in that file only; a package or release series it does not list is not checked.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace amlflow::compiler {

// A Python version as major * 100 + minor (3.12 -> 312), so ranges compare as numbers.
using PythonLevel = int;
std::string python_level_text(PythonLevel level);  // 312 -> "3.12"

struct ReleaseSeries {
    int major = 0, minor = 0;
    PythonLevel python_low = 0, python_high = 0;  // inclusive
    std::vector<int> latest;                      // the last release of the series, 1.13.1 -> {1, 13, 1}
    std::string name() const { return std::to_string(major) + "." + std::to_string(minor); }
};

struct PythonSupport {
    std::string default_python;  // what amlflow's conda YAML says without python_version
    std::map<std::string, std::string> aliases;              // conda or other names -> the table's
    std::map<std::string, std::vector<ReleaseSeries>> packages;  // each oldest first
    // The series of `name` (any case, '_' as '-', an alias), or nullptr when not listed.
    const std::vector<ReleaseSeries>* find(std::string_view name, std::string* canonical = nullptr) const;
};

const PythonSupport& python_support();

// The leading numbers of a version: "1.13.1+cu117" -> {1, 13, 1}, "2.0.0rc1" -> {2, 0, 0},
// "3.12.*" -> {3, 12}; empty when it does not start with a number.
std::vector<int> version_numbers(std::string_view version);

}  // namespace amlflow::compiler
