// `amlflow fmt`: one canonical layout for .amlflow text, idempotent, every comment kept.
// The language server's formatting request calls the same function.
#pragma once

#include <memory>
#include <string>

#include "compiler/diagnostics.h"

namespace amlflow::compiler {

struct FormatResult {
    bool ok = false;          // false: the text does not parse; `diagnostics` says why
    std::string text;         // the formatted text (when ok)
    Diagnostics diagnostics;  // syntax errors, when not ok
    // The file the diagnostics point into: they hold pointers to it, so it lives as long
    // as the result does.
    std::shared_ptr<const SourceFile> source;
};

// Formats `text` (the contents of `path`, which is only used to name it in diagnostics).
// Never throws on user input.
FormatResult format_source(const std::string& path, const std::string& text);

}  // namespace amlflow::compiler
