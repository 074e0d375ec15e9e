// `textDocument/hover`: what a word means. Fields and blocks from the schema, built-ins
// and keywords from their docs, and for a reference (`epochs`, `train`,
// `curated.local_torch`) the declaration it names: its kind, type and value as written.
#pragma once

#include <nlohmann/json.hpp>

#include "editor/lsp/text_position.h"

namespace amlflow::lsp {

struct Document;

// The `Hover` result, or null when there is nothing to say.
nlohmann::json hover(const Document& document, Position position);

}  // namespace amlflow::lsp
