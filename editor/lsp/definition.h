// `textDocument/definition`: where a name is declared, in this file, in a relative
// import, or in a stdlib module (answered as a file in the stdlib cache, see
// source_uri.h). A step result (`train.outputs`) goes to its step; an import to the
// imported file.
#pragma once

#include <nlohmann/json.hpp>

#include "editor/lsp/text_position.h"

namespace amlflow::lsp {

struct Document;

// A `Location`, or null.
nlohmann::json definition(const Document& document, Position position);

}  // namespace amlflow::lsp
