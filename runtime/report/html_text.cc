#include "runtime/report/html_text.h"

namespace amlflow::runtime {

using nlohmann::json;

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;
                if (c == 0x7f) break;
                out += c;
        }
    }
    return out;
}

std::string json_for_script(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size());
    // Outside strings, JSON text has no <, > or &; inside them \u escapes mean the same.
    for (char c : text) {
        if (c == '<') out += "\\u003c";
        else if (c == '>') out += "\\u003e";
        else if (c == '&') out += "\\u0026";
        else out += c;
    }
    return out;
}

std::string state_class(std::string_view state) {
    std::string name = "state-";
    for (char c : state) name += c == ' ' ? '-' : c;
    return html_escape(name);
}

std::string strip_terminal_codes(std::string_view line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
            i += 2;
            while (i < line.size() && !(line[i] >= '@' && line[i] <= '~')) ++i;
            continue;
        }
        out += line[i];
    }
    return out;
}

}  // namespace amlflow::runtime
