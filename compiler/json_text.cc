#include "compiler/json_text.h"

#include <nlohmann/json.hpp>

namespace amlflow::compiler::json_text {

size_t skip(std::string_view text, size_t at) {
    if (at >= text.size()) return at;
    if (text[at] == '"') {
        for (size_t i = at + 1; i < text.size(); ++i) {
            if (text[i] == '\\') ++i;
            else if (text[i] == '"') return i + 1;
        }
        return text.size();
    }
    if (text[at] == '{' || text[at] == '[') {
        int depth = 0;
        for (size_t i = at; i < text.size(); ++i) {
            char c = text[i];
            if (c == '"') {
                i = skip(text, i) - 1;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return text.size();
    }
    size_t end = at;  // a number, true, false or null: up to the next separator
    while (end < text.size() && text[end] != ',' && text[end] != '}' && text[end] != ']') ++end;
    return end;
}

std::string string_of(std::string_view value) {
    if (value.size() >= 2 && value.find('\\') == std::string_view::npos) return std::string(value.substr(1, value.size() - 2));
    return nlohmann::json::parse(value).get<std::string>();  // rare: an escape to undo
}

std::optional<std::string_view> member(std::string_view object, std::string_view key) {
    std::optional<std::string_view> found;
    each_member(object, [&](std::string_view name, std::string_view value) {
        if (!found && name.substr(1, name.size() - 2) == key) found = value;
    });
    return found;
}

void append_pretty(std::string& out, std::string_view value, int depth) {
    auto newline = [&out](int levels) {
        out += '\n';
        out.append(static_cast<size_t>(levels) * 2, ' ');
    };
    if (is_object(value)) {
        if (value == "{}") {
            out += "{}";
            return;
        }
        out += '{';
        bool first = true;
        each_member(value, [&](std::string_view key, std::string_view item) {
            if (!first) out += ',';
            first = false;
            newline(depth + 1);
            out += key;
            out += ": ";
            append_pretty(out, item, depth + 1);
        });
        newline(depth);
        out += '}';
    } else if (is_array(value)) {
        if (value == "[]") {
            out += "[]";
            return;
        }
        out += '[';
        bool first = true;
        each_item(value, [&](std::string_view item) {
            if (!first) out += ',';
            first = false;
            newline(depth + 1);
            append_pretty(out, item, depth + 1);
        });
        newline(depth);
        out += ']';
    } else {
        out += value;  // a string (escaped as the pretty form escapes it), number, bool or null
    }
}

}  // namespace amlflow::compiler::json_text
