// Walks ANTLR's typed parse tree and builds the AST, giving every node its source
// range. Part of the parse driver (it sees generated types); everything after it sees
// only compiler/ast.h. Subtrees that a syntax error broke are dropped, and the block
// holding them is marked incomplete so later phases don't repeat the error.
#pragma once

#include <memory>
#include <optional>
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

// Builds the AST of a file parsed piece by piece (compiler/parse_chunks.cc). One builder
// serves the whole file, so what is reported once per file ("nested too deeply") stays
// reported once.
class AstBuilder {
public:
    AstBuilder(const SourceFile& file, const OffsetMap& offsets, Diagnostics& diagnostics, bool recovered);
    ~AstBuilder();
    AstBuilder(const AstBuilder&) = delete;
    AstBuilder& operator=(const AstBuilder&) = delete;

    // The declarations of an AmlflowParser::FileContext.
    std::vector<ast::Decl> declarations(antlr4::ParserRuleContext* file_context);
    // The step of an AmlflowParser::StepChunkContext; nullopt when it has no name.
    std::optional<ast::Step> step(antlr4::ParserRuleContext* step_chunk_context);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace amlflow::compiler
