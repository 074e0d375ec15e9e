// `textDocument/documentSymbol`: the file's outline, hierarchical: imports, params,
// lets, workspaces, environments and computes with their fields, experiments with their
// steps and the steps' fields.
#pragma once

#include <nlohmann/json.hpp>

namespace amlflow::lsp {

struct Document;

// An array of `DocumentSymbol`s.
nlohmann::json document_symbols(const Document& document);

}  // namespace amlflow::lsp
