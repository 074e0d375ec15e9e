#include "compiler/parse_driver.h"

#include <BailErrorStrategy.h>
#include <CommonTokenStream.h>
#include <DefaultErrorStrategy.h>
#include <atn/ParserATNSimulator.h>
#include <atn/PredictionMode.h>
#include <Exceptions.h>

#include "AmlflowLexer.h"
#include "AmlflowParser.h"
#include "compiler/ast_builder.h"
#include "compiler/fast_parser.h"
#include "compiler/fast_lexer.h"
#include "compiler/parse_chunks.h"
#include "compiler/syntax_errors.h"
#include "compiler/text_char_stream.h"

namespace amlflow::compiler {

using grammar::AmlflowLexer;
using grammar::AmlflowParser;

namespace {

// Returns false, with a diagnostic, when brackets or a run of '-' nest too deeply.
bool nesting_is_bounded(antlr4::CommonTokenStream& tokens, const SourceFile& file, const OffsetMap& offsets,
                        Diagnostics& diagnostics) {
    tokens.fill();
    int depth = 0, minus_run = 0;
    for (antlr4::Token* token : tokens.getTokens()) {
        size_t type = token->getType();
        if (token->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
        minus_run = type == AmlflowLexer::MINUS ? minus_run + 1 : 0;
        if (type == AmlflowLexer::LPAREN || type == AmlflowLexer::LBRACKET || type == AmlflowLexer::LBRACE) ++depth;
        if (type == AmlflowLexer::RPAREN || type == AmlflowLexer::RBRACKET || type == AmlflowLexer::RBRACE) --depth;
        if (depth > kMaxNesting || minus_run > kMaxNesting) {
            SourceRange at{&file, offsets.byte_offset(token->getStartIndex()), offsets.byte_offset(token->getStopIndex() + 1)};
            diagnostics.error("syntax", at, "the text is nested too deeply here")
                .note("brackets, braces and '-' may nest at most " + std::to_string(kMaxNesting) + " levels");
            return false;
        }
    }
    return true;
}

// Parses with the fast SLL strategy first and falls back to full LL with error
// recovery only when that fails: valid files (the common case) never pay for LL, and
// invalid ones get every error reported in one pass.
template <typename Entry, typename Build>
auto parse_with(const SourceFile& file, uint32_t begin, uint32_t end, Diagnostics& diagnostics,
                Entry entry, Build build, std::string_view replacement = {}) {
    std::string_view slice(file.text().data() + begin, end - begin);
    if (replacement.size() == slice.size()) slice = replacement;
    OffsetMap offsets(slice, begin);
    TextCharStream input(slice);
    FastLexer lexer(&input);
    lexer.removeErrorListeners();
    antlr4::CommonTokenStream tokens(&lexer);
    if (!nesting_is_bounded(tokens, file, offsets, diagnostics)) return build(nullptr, offsets, true);
    FastParser parser(&tokens);
    parser.removeErrorListeners();
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
        antlr4::atn::PredictionMode::SLL);
    parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    try {
        auto* tree = entry(parser);
        return build(tree, offsets, false);
    } catch (const antlr4::ParseCancellationException&) {
        // Not SLL-parsable or not valid: parse again with full LL and recovery.
    }
    tokens.seek(0);
    parser.reset();
    SyntaxErrorListener listener(file, offsets, diagnostics);
    parser.addErrorListener(&listener);
    parser.setErrorHandler(std::make_shared<LineErrorStrategy>());
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
        antlr4::atn::PredictionMode::LL);
    auto* tree = entry(parser);
    return build(tree, offsets, true);
}

}  // namespace

namespace {

std::unique_ptr<ast::Module> parse_file(std::shared_ptr<const SourceFile> source, Diagnostics& diagnostics,
                                        bool in_chunks, bool pack_steps) {
    auto module = std::make_unique<ast::Module>();
    module->source = source;
    const SourceFile& file = *source;
    // ANTLR's input stream drops a UTF-8 byte order mark, which would shift every column
    // it reports by one: the parser sees three spaces in its place instead.
    std::string without_bom;
    if (file.text().substr(0, 3) == "\xEF\xBB\xBF") {
        without_bom = std::string(file.text());
        without_bom.replace(0, 3, "   ");
    }
    // A valid file is parsed a declaration (and a step) at a time; a file with a syntax
    // error is parsed whole, which is where every syntax error is worded.
    std::string_view text = without_bom.empty() ? std::string_view(file.text()) : std::string_view(without_bom);
    if (in_chunks) {
        if (auto decls = parse_in_chunks(file, text, kWorkersAsFitting, pack_steps)) {
            module->decls = std::move(*decls);
            return module;
        }
    }
    module->decls = parse_with(
        file, 0, static_cast<uint32_t>(file.text().size()), diagnostics,
        [](AmlflowParser& parser) { return parser.file(); },
        [&](AmlflowParser::FileContext* tree, const OffsetMap& offsets, bool recovered) {
            return tree ? build_declarations(tree, file, offsets, diagnostics, recovered) : std::vector<ast::Decl>{};
        },
        without_bom);
    return module;
}

}  // namespace

std::unique_ptr<ast::Module> parse_module(std::shared_ptr<const SourceFile> source,
                                          Diagnostics& diagnostics, bool pack_steps) {
    return parse_file(std::move(source), diagnostics, true, pack_steps);
}

std::unique_ptr<ast::Module> parse_module_whole(std::shared_ptr<const SourceFile> source,
                                                Diagnostics& diagnostics) {
    return parse_file(std::move(source), diagnostics, false, false);
}

ast::ExprPtr parse_expression(const SourceFile& file, uint32_t begin, uint32_t end,
                              Diagnostics& diagnostics, std::string_view text) {
    size_t before = diagnostics.error_count();
    ast::ExprPtr expr = parse_with(
        file, begin, end, diagnostics,
        [](AmlflowParser& parser) { return parser.standaloneExpr(); },
        [&](AmlflowParser::StandaloneExprContext* tree, const OffsetMap& offsets, bool recovered) {
            return tree ? build_standalone_expression(tree, file, offsets, diagnostics, recovered) : ast::ExprPtr{};
        },
        text);
    if (diagnostics.error_count() > before || expr == nullptr) {
        auto error = std::make_unique<ast::Expr>();
        error->kind = ast::ExprKind::Error;
        error->range = {&file, begin, end};
        return error;
    }
    return expr;
}

}  // namespace amlflow::compiler
