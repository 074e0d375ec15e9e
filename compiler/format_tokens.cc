// Lexing and annotating a file for the formatter. This and the parse driver are the only
// files that include ANTLR's generated code: the formatter needs the comments (hidden
// channel) and the parse tree's shape, which the AST does not keep.
#include "compiler/format_tokens.h"

#include <typeinfo>

#include <BailErrorStrategy.h>
#include <CommonTokenStream.h>
#include <DefaultErrorStrategy.h>
#include <Exceptions.h>
#include <atn/ParserATNSimulator.h>
#include <atn/PredictionMode.h>

#include "AmlflowLexer.h"
#include "AmlflowParser.h"
#include "compiler/text_char_stream.h"

namespace amlflow::compiler::format {

using grammar::AmlflowLexer;
using grammar::AmlflowParser;

namespace {

Lex classify(size_t type) {
    switch (type) {
        case antlr4::Token::EOF: return Lex::End;
        case AmlflowLexer::LINE_COMMENT: return Lex::LineComment;
        case AmlflowLexer::BLOCK_COMMENT: return Lex::BlockComment;
        case AmlflowLexer::COMMA: return Lex::Comma;
        case AmlflowLexer::DOT: return Lex::Dot;
        case AmlflowLexer::COLON: return Lex::Colon;
        case AmlflowLexer::ASSIGN: return Lex::Assign;
        case AmlflowLexer::MINUS: return Lex::Minus;
        case AmlflowLexer::PLUS:
        case AmlflowLexer::STAR:
        case AmlflowLexer::SLASH:
        case AmlflowLexer::PERCENT: return Lex::Operator;
        case AmlflowLexer::LPAREN:
        case AmlflowLexer::LBRACKET:
        case AmlflowLexer::LBRACE: return Lex::Open;
        case AmlflowLexer::RPAREN:
        case AmlflowLexer::RBRACKET:
        case AmlflowLexer::RBRACE: return Lex::Close;
        case AmlflowLexer::TRUE:
        case AmlflowLexer::FALSE: return Lex::Word;
        default: break;
    }
    // Identifiers and keywords sit together in the vocabulary: IMPORT .. FROM, then ID.
    if ((type >= AmlflowLexer::IMPORT && type <= AmlflowLexer::FROM) || type == AmlflowLexer::ID) return Lex::Name;
    return Lex::Word;
}

std::vector<FormatToken> convert(antlr4::CommonTokenStream& stream) {
    stream.fill();
    std::vector<FormatToken> tokens;
    tokens.reserve(stream.size());
    for (antlr4::Token* token : stream.getTokens()) {
        FormatToken out;
        out.lex = classify(token->getType());
        if (out.lex != Lex::End) out.text = token->getText();
        out.line = static_cast<uint32_t>(token->getLine());
        out.column = static_cast<uint32_t>(token->getCharPositionInLine());
        out.end_line = out.line;
        for (char c : out.text) out.end_line += c == '\n';
        tokens.push_back(std::move(out));
    }
    return tokens;
}

// Exact type tests: the contexts named here are leaf classes, and typeid's comparison
// costs a pointer compare where dynamic_cast walks the class hierarchy comparing names.
template <typename T>
bool is(antlr4::tree::ParseTree* node) {
    return typeid(*node) == typeid(T);
}

bool is_terminal(antlr4::tree::ParseTree* node) {
    return is<antlr4::tree::TerminalNodeImpl>(node) || is<antlr4::tree::ErrorNodeImpl>(node);
}

size_t index_of(antlr4::tree::ParseTree* node) {
    if (is_terminal(node)) return static_cast<antlr4::tree::TerminalNode*>(node)->getSymbol()->getTokenIndex();
    return static_cast<antlr4::ParserRuleContext*>(node)->getStart()->getTokenIndex();
}

// Walks the parse tree once, turning bracket pairs into containers and marking tokens.
class Annotator {
public:
    explicit Annotator(TokenizedFile& file) : file_(file) {}

    void walk(antlr4::tree::ParseTree* node) {
        visit(node);
        for (antlr4::tree::ParseTree* child : node->children) {
            if (!is_terminal(child)) walk(child);
        }
    }

    void top(AmlflowParser::FileContext* file) {
        Container top;
        top.kind = ContainerKind::Top;
        top.close = file_.tokens.size() - 1;
        top.multiline = true;
        file_.containers.push_back(top);
        add_items(0, children_of(file->topDecl()));
    }

private:
    void visit(antlr4::tree::ParseTree* node) {
        using P = AmlflowParser;
        if (is<P::BlockContext>(node)) {
            add(ContainerKind::Block, node, children_of(static_cast<P::BlockContext*>(node)->member()), node);
        } else if (is<P::ExperimentDeclContext>(node)) {
            add(ContainerKind::Body, node, children_of(static_cast<P::ExperimentDeclContext*>(node)->step()), nullptr);
        } else if (is<P::ListPrimaryContext>(node)) {
            add(ContainerKind::List, node, children_of(static_cast<P::ListPrimaryContext*>(node)->expr()), node);
        } else if (is<P::CallPrimaryContext>(node)) {
            add_args(node, static_cast<P::CallPrimaryContext*>(node)->args());
        } else if (is<P::JobStepContext>(node)) {
            auto* job = static_cast<P::JobStepContext*>(node);
            if (job->jobParams() == nullptr) add_args(node, job->args());
        } else if (is<P::JobParamsContext>(node)) {
            add(ContainerKind::List, node, children_of(static_cast<P::JobParamsContext*>(node)->jobParam()), node);
        } else if (is<P::ParenPrimaryContext>(node)) {
            add(ContainerKind::Paren, node, {}, nullptr);
        } else if (is<P::TypeRefContext>(node)) {
            add(ContainerKind::Type, node, {}, nullptr);
        } else if (is<P::AssignMemberContext>(node)) {
            auto* assign = static_cast<P::AssignMemberContext*>(node);
            mark(assign->ASSIGN(), kAssignMark, assign);
        } else if (is<P::ComputeDeclContext>(node)) {
            auto* compute = static_cast<P::ComputeDeclContext*>(node);
            mark(compute->COLON(), kComputeColon, compute);
            if (compute->block()) mark(compute->block()->LBRACE(), kComputeBrace, compute);
        } else if (is<P::NegateExprContext>(node)) {
            auto* negate = static_cast<P::NegateExprContext*>(node);
            mark(negate->MINUS(), kUnaryMinus, negate);
        }
    }

    template <typename T>
    static std::vector<antlr4::tree::ParseTree*> children_of(const std::vector<T*>& nodes) {
        return std::vector<antlr4::tree::ParseTree*>(nodes.begin(), nodes.end());
    }

    void mark(antlr4::tree::TerminalNode* terminal, TokenRole role, antlr4::ParserRuleContext* owner) {
        if (terminal == nullptr) return;
        FormatToken& token = file_.tokens[terminal->getSymbol()->getTokenIndex()];
        token.roles |= role;
        token.anchor = owner->getStart()->getTokenIndex();
    }

    // A call's or a binding's `( args )`: the items and commas are the ArgsContext's.
    void add_args(antlr4::tree::ParseTree* node, AmlflowParser::ArgsContext* args) {
        std::vector<antlr4::tree::ParseTree*> items;
        if (args) items = children_of(args->arg());
        add(ContainerKind::List, node, items, args);
    }

    // The first opening bracket among `node`'s own tokens and its last closing one form
    // the container; commas directly under `commas_from` separate its items.
    void add(ContainerKind kind, antlr4::tree::ParseTree* node, const std::vector<antlr4::tree::ParseTree*>& items,
             antlr4::tree::ParseTree* commas_from) {
        size_t open = SIZE_MAX, close = SIZE_MAX;
        for (antlr4::tree::ParseTree* child : node->children) {
            if (!is_terminal(child)) continue;
            size_t index = static_cast<antlr4::tree::TerminalNode*>(child)->getSymbol()->getTokenIndex();
            Lex lex = file_.tokens[index].lex;
            if (lex == Lex::Open && open == SIZE_MAX) open = index;
            if (lex == Lex::Close) close = index;
        }
        if (open == SIZE_MAX || close == SIZE_MAX || close <= open) return;
        int id = static_cast<int>(file_.containers.size());
        Container container;
        container.kind = kind;
        container.open = open;
        container.close = close;
        container.multiline = file_.tokens[open].end_line != file_.tokens[close].line && close > open + 1;
        file_.containers.push_back(container);
        file_.tokens[open].roles |= kOpener;
        file_.tokens[open].bracket = id;
        file_.tokens[close].roles |= kCloser;
        file_.tokens[close].bracket = id;
        add_items(id, items);
        if (commas_from == nullptr) return;
        for (antlr4::tree::ParseTree* child : commas_from->children) {
            size_t index = index_of(child);
            if (is_terminal(child) && file_.tokens[index].lex == Lex::Comma) {
                file_.tokens[index].roles |= kSeparator;
                file_.tokens[index].bracket = id;
            }
        }
    }

    void add_items(int id, const std::vector<antlr4::tree::ParseTree*>& items) {
        for (antlr4::tree::ParseTree* item : items) {
            FormatToken& token = file_.tokens[index_of(item)];
            token.roles |= kItemStart;
            token.item_of = id;
        }
        file_.containers[id].items = items.size();
    }

    TokenizedFile& file_;
};

}  // namespace

std::vector<FormatToken> lex_for_format(const std::string& text) {
    TextCharStream input(text);
    AmlflowLexer lexer(&input);
    lexer.removeErrorListeners();
    antlr4::CommonTokenStream stream(&lexer);
    return convert(stream);
}

std::optional<TokenizedFile> tokenize_for_format(const std::string& text) {
    TextCharStream input(text);
    AmlflowLexer lexer(&input);
    lexer.removeErrorListeners();
    antlr4::CommonTokenStream stream(&lexer);
    TokenizedFile file;
    file.tokens = convert(stream);
    AmlflowParser parser(&stream);
    parser.removeErrorListeners();
    // SLL first, full LL only when SLL cannot decide, as the parse driver does.
    auto* simulator = parser.getInterpreter<antlr4::atn::ParserATNSimulator>();
    simulator->setPredictionMode(antlr4::atn::PredictionMode::SLL);
    parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    AmlflowParser::FileContext* tree = nullptr;
    try {
        tree = parser.file();
    } catch (const antlr4::ParseCancellationException&) {
        stream.seek(0);
        parser.reset();
        simulator->setPredictionMode(antlr4::atn::PredictionMode::LL);
        try {
            tree = parser.file();
        } catch (const antlr4::ParseCancellationException&) {
            return std::nullopt;
        }
    }
    if (tree == nullptr || parser.getNumberOfSyntaxErrors() > 0) return std::nullopt;
    Annotator annotator(file);
    annotator.top(tree);
    annotator.walk(tree);
    return file;
}

}  // namespace amlflow::compiler::format
