// The compiler's diagnostics as the protocol's `Diagnostic` objects, for
// `textDocument/publishDiagnostics`.
#pragma once

#include <nlohmann/json.hpp>

namespace amlflow::lsp {

struct Document;

// The diagnostics of `document`'s latest compile that belong to it: those located in it,
// those with no location (shown on its first line), and, for each import whose file has
// errors, one diagnostic on the import naming the first of them.
nlohmann::json diagnostics_json(const Document& document);

// The whole `textDocument/publishDiagnostics` notification.
nlohmann::json publish_diagnostics(const Document& document);

}  // namespace amlflow::lsp
