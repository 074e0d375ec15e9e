// The only place that includes ANTLR's generated parser: text in, AST and syntax
// diagnostics out. Syntax errors are worded in the language's own terms by
// syntax_errors.cc; no ANTLR message ever reaches the user.
#pragma once

#include <memory>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"

namespace amlflow::compiler {

// A valid file is parsed one declaration (and one step) at a time (parse_chunks.h); any
// other file is parsed whole, SLL first and LL with error recovery when that fails.
// `pack_steps`: when the file parses in pieces, its steps but templates come back packed
// (ast_pack.h); a file with a syntax error comes back unpacked.
std::unique_ptr<ast::Module> parse_module(std::shared_ptr<const SourceFile> source,
                                          Diagnostics& diagnostics, bool pack_steps = false);
// The whole-file parse alone, as parse_module does it for a file that does not parse in
// pieces: for the tests that hold the two to the same result.
std::unique_ptr<ast::Module> parse_module_whole(std::shared_ptr<const SourceFile> source,
                                                Diagnostics& diagnostics);

// Parses [begin, end) of `file` as one expression (string interpolation, `--set`
// values). Ranges in the result point into `file`. Returns an Error expression, with
// diagnostics, when the text is not one whole expression.
// `text`, when given, replaces the slice's bytes (same length): an interpolation inside a
// string is parsed with its escaped quotes (\") turned into plain ones.
ast::ExprPtr parse_expression(const SourceFile& file, uint32_t begin, uint32_t end,
                              Diagnostics& diagnostics, std::string_view text = {});

}  // namespace amlflow::compiler
