// `amlflow fmt`: one canonical layout for .amlflow text, idempotent, every comment kept.
// The language server's formatting request calls the same function.
#pragma once

#include <string>

#include "compiler/diagnostics.h"

namespace amlflow::compiler {

struct FormatResult {
    bool ok = false;          // false: the text does not parse; `diagnostics` says why
    std::string text;         // the formatted text (when ok)
    Diagnostics diagnostics;  // syntax errors, when not ok
};

// Formats `text` (the contents of `path`, which is only used to name it in diagnostics).
// Never throws on user input.
FormatResult format_source(const std::string& path, const std::string& text);

}  // namespace amlflow::compiler
