#include "runtime/azureml/yaml_text.h"

#include <cctype>
#include <regex>

namespace amlflow::runtime::azureml {
using nlohmann::ordered_json;

namespace {

// A word PyYAML's safe loader (YAML 1.1) resolves to a bool or null.
bool special_word(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* word : {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", ".inf", ".nan"}) {
        if (text == word) return true;
    }
    return false;
}

// Whether a string may stay plain: it starts with a letter, '_', '/', '.' or '$' (never a
// digit, sign or indicator, so never a number or date), holds no character that could start
// a comment, a flow collection or a mapping inside, and is not a special word.
bool plain(const std::string& text) {
    static const std::regex safe(R"(^[A-Za-z_/.$][A-Za-z0-9_./$@+=,:-]*$)");
    if (text.empty() || !std::regex_match(text, safe) || special_word(text)) return false;
    return text.back() != ':' && text.find(": ") == std::string::npos;
}

std::string number(const ordered_json& value) {
    std::string text = value.dump();
    if (!value.is_number_float()) return text;
    size_t e = text.find_first_of("eE");
    if (text.find('.') == std::string::npos) text.insert(e == std::string::npos ? text.size() : e, ".0");
    e = text.find_first_of("eE");
    if (e != std::string::npos && e + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[e + 1]))) {
        text.insert(e + 1, "+");  // PyYAML's float needs the exponent's sign
    }
    return text;
}

bool raw_yaml(const ordered_json& value) {
    return value.is_object() && value.size() == 1 && value.contains("$yaml") && value["$yaml"].is_string();
}

bool inline_value(const ordered_json& value) {
    return !raw_yaml(value) && (value.is_primitive() || value.empty());
}

void emit(const ordered_json& value, int indent, std::string& out);

void emit_raw(const std::string& text, int indent, std::string& out) {
    std::string pad(indent, ' ');
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        if (!line.empty()) out += pad + line;
        out += "\n";
        at = end + 1;
    }
}

// `key:` then its value, inline when it is a scalar or empty, else on the lines below.
void emit_entry(const std::string& head, const ordered_json& value, int indent, std::string& out) {
    if (inline_value(value)) {
        out += head + " " + yaml_scalar(value) + "\n";
    } else if (raw_yaml(value)) {
        out += head + "\n";
        emit_raw(value["$yaml"].get<std::string>(), indent + 2, out);
    } else {
        out += head + "\n";
        emit(value, indent + 2, out);
    }
}

void emit(const ordered_json& value, int indent, std::string& out) {
    std::string pad(indent, ' ');
    if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it) {
            emit_entry(pad + yaml_scalar(it.key()) + ":", it.value(), indent, out);
        }
    } else if (value.is_array()) {
        for (const ordered_json& item : value) {
            if (item.is_object() && !item.empty() && !raw_yaml(item)) {
                // "- first: 1\n  second: 2": the first key on the dash's line.
                std::string block;
                emit(item, indent + 2, block);
                out += pad + "- " + block.substr(indent + 2);
            } else {
                emit_entry(pad + "-", item, indent, out);
            }
        }
    } else {
        out += pad + yaml_scalar(value) + "\n";
    }
}

}  // namespace

std::string yaml_scalar(const ordered_json& value) {
    if (value.is_null()) return "null";
    if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
    if (value.is_number()) return number(value);
    if (value.is_object()) return "{}";
    if (value.is_array()) return "[]";
    std::string text = value.get<std::string>();
    return plain(text) ? text : value.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string yaml_text(const ordered_json& value) {
    std::string out;
    if (inline_value(value)) return yaml_scalar(value) + "\n";
    emit(value, 0, out);
    return out;
}

}  // namespace amlflow::runtime::azureml
