// A JSON value as block-style YAML (for `amlflow plan --format azureml`: the job files the
// Azure ML CLI reads with PyYAML's safe loader, YAML 1.1). No YAML library: the emitter quotes
// every string PyYAML could read as something else (booleans such as `yes` or `off`, null,
// numbers, sexagesimal `1:30`, dates, a leading indicator, `: ` or ` #` inside, a newline)
// as a JSON string, which is valid double-quoted YAML; floats always carry a `.` (`1.0e-05`:
// PyYAML reads `1e-05` as a string). An object `{"$yaml": TEXT}` is block YAML already (a
// conda file amlflow wrote): it is placed, indented, as the value.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace amlflow::runtime::azureml {

// The document's lines, each ending in '\n'; keys in the object's own order.
std::string yaml_text(const nlohmann::ordered_json& value);

// One scalar as YAML writes it (quoted where it must be).
std::string yaml_scalar(const nlohmann::ordered_json& value);

}  // namespace amlflow::runtime::azureml
