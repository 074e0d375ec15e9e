// A declaration described for the editor: `param epochs: int = 4`, a compute's kind and
// fields, a step's signature and results. Shared by hover and completion's details.
#pragma once

#include <string>

#include "editor/lsp/symbol_resolver.h"

namespace amlflow::lsp {

// One line: `param epochs: int = 4`, `compute here : local`, `job train(lr: float)`.
std::string symbol_signature(const Symbol& symbol);

// Markdown: the signature in a code block, then what is known about it.
std::string symbol_markdown(const Symbol& symbol, const compiler::ModuleSet& modules);

// A kind word for the symbol: "param", "environment", "job", "parameter", ...
std::string symbol_kind_word(const Symbol& symbol);

}  // namespace amlflow::lsp
