#include "runtime/core/error_file.h"

#include <cstdio>

namespace amlflow::runtime {

using nlohmann::json;

std::optional<json> parse_error_file(const std::string& text) {
    if (text.empty()) return std::nullopt;
    json file = json::parse(text, nullptr, false);
    if (!file.is_object() || !file.contains("message")) return std::nullopt;
    const json& message = file["message"];
    // torch 1.13: {"message": {"message": "Type: text", "extraInfo": {"py_callstack", "timestamp"}}};
    // a plain string in later formats.
    std::string whole = message.is_string() ? message.get<std::string>()
                        : message.is_object() && message.value("message", json()).is_string()
                            ? message["message"].get<std::string>()
                            : "";
    if (whole.empty()) return std::nullopt;
    json out = json::object();
    size_t colon = whole.find(": ");
    bool typed = colon != std::string::npos && whole.find_first_of(" \n") >= colon;
    out["type"] = typed ? whole.substr(0, colon) : "";
    out["message"] = typed ? whole.substr(colon + 2) : whole;
    const json* extra = message.is_object() && message.contains("extraInfo") ? &message["extraInfo"] : nullptr;
    if (extra && extra->is_object()) {
        if (extra->value("py_callstack", json()).is_string()) out["traceback"] = (*extra)["py_callstack"];
        if (extra->value("timestamp", json()).is_string()) {
            const std::string& stamp = (*extra)["timestamp"].get_ref<const std::string&>();
            if (!stamp.empty() && stamp.find_first_not_of("0123456789") == std::string::npos) {
                out["timestamp"] = std::stoll(stamp);
            }
        }
    }
    return out;
}

std::string read_error_file(const std::string& path) {
    if (path.empty()) return "";
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return "";
    std::string text(64 * 1024, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), file));
    std::fclose(file);
    return text;
}

std::string exception_summary(const json& error) {
    std::string type = error.value("type", json("")).is_string() ? error["type"].get<std::string>() : "";
    std::string message = error.value("message", json("")).is_string() ? error["message"].get<std::string>() : "";
    return (type.empty() ? "" : type + ": ") + message;
}

}  // namespace amlflow::runtime
