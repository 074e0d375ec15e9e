// `textDocument/formatting`: the canonical layout of `amlflow fmt`
// (compiler/formatter.h), as one edit replacing the whole document.
#pragma once

#include <nlohmann/json.hpp>

namespace amlflow::lsp {

struct Document;

// An array of `TextEdit`s: empty when the text is already formatted; null when it does
// not parse (the diagnostics already say why).
nlohmann::json format_document(const Document& document);

}  // namespace amlflow::lsp
