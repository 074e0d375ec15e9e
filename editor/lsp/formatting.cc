#include "editor/lsp/formatting.h"

#include "compiler/formatter.h"
#include "editor/lsp/document_store.h"

namespace amlflow::lsp {

nlohmann::json format_document(const Document& document) {
    compiler::FormatResult result = compiler::format_source(document.path, document.text);
    if (!result.ok) return nullptr;
    nlohmann::json edits = nlohmann::json::array();
    if (result.text == document.text) return edits;
    edits.push_back({{"range", document.index.range_json(0, static_cast<uint32_t>(document.text.size()))},
                     {"newText", result.text}});
    return edits;
}

}  // namespace amlflow::lsp
