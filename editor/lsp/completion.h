// `textDocument/completion`: fields valid in the enclosing block and not yet written,
// declared names, a step's results after `x.`, and the words a field accepts
// (distribution kinds, compute kinds, sampling values, early-stop kinds, types). The
// context comes from tokens (completion_context.h), the names from the document's last
// compile, so it works while the text is half typed.
#pragma once

#include <nlohmann/json.hpp>

#include "editor/lsp/text_position.h"

namespace amlflow::lsp {

struct Document;

// A `CompletionList`.
nlohmann::json completion(const Document& document, Position position);

}  // namespace amlflow::lsp
