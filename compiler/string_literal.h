// Decoding of string literals: escapes, `"""` strings, and the `${expr}` pieces that
// are parsed as expressions of their own.
#pragma once

#include <vector>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"

namespace amlflow::compiler {

// `begin`/`end` delimit the whole token in `file`, quotes included.
std::vector<ast::StringPart> decode_string_literal(const SourceFile& file, uint32_t begin,
                                                   uint32_t end, Diagnostics& diagnostics);

}  // namespace amlflow::compiler
