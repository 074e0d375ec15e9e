// Walks ANTLR's typed parse tree and builds the AST, giving every node its source
// range. Part of the parse driver (it sees generated types); everything after it sees
// only compiler/ast.h. Subtrees that a syntax error broke are dropped, and the block
// holding them is marked incomplete so later phases don't repeat the error.
#pragma once

#include <vector>

#include "compiler/ast.h"
#include "compiler/diagnostics.h"
#include "compiler/utf8.h"

namespace antlr4 {
class ParserRuleContext;
}

namespace amlflow::compiler {

// `offsets` maps the parser's code-point positions to byte offsets in `file` (the parsed
// text may be a slice of it). The contexts are AmlflowParser::FileContext and
// AmlflowParser::StandaloneExprContext.
// `recovered`: the parser had to recover from syntax errors, so subtrees may be broken.
std::vector<ast::Decl> build_declarations(antlr4::ParserRuleContext* file_context,
                                          const SourceFile& file, const OffsetMap& offsets,
                                          Diagnostics& diagnostics, bool recovered);
ast::ExprPtr build_standalone_expression(antlr4::ParserRuleContext* standalone_context,
                                         const SourceFile& file, const OffsetMap& offsets,
                                         Diagnostics& diagnostics, bool recovered);

}  // namespace amlflow::compiler
