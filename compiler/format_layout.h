// The formatter's layout: annotated tokens in, canonical text out. The rules are listed
// in docs/language.md ("Formatting"); format_layout.cc says why each one is as it is.
#pragma once

#include <string>

#include "compiler/format_tokens.h"

namespace amlflow::compiler::format {

// Lays out a file that parsed. Deterministic, and a fixed point: laying out the result
// again gives the same text.
std::string lay_out(const TokenizedFile& file);

}  // namespace amlflow::compiler::format
