// Text made safe for the report's HTML page: element content, JSON inside a <script>
// element, and log lines without terminal codes. Shared by every part of the page.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

// Text for HTML element content or a quoted attribute: & < > " ' escaped, and control
// characters other than tab and line feed dropped (a NUL or an escape byte from a log is
// not text anyone can read).
std::string html_escape(std::string_view text);

// `value` as JSON text safe inside a <script> element: no "</script>" or "<!--" can
// appear, since every <, > and & is written as a \u escape; invalid UTF-8 is replaced.
std::string json_for_script(const nlohmann::json& value);

// A state as a CSS class name: "state-succeeded", "state-stopped-early".
std::string state_class(std::string_view state);

// Removes terminal colour and cursor sequences (ESC [ ... letter) from a log line.
std::string strip_terminal_codes(std::string_view line);

}  // namespace amlflow::runtime
