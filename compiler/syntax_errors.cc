#include "compiler/syntax_errors.h"

#include <Parser.h>
#include <Token.h>
#include <TokenStream.h>
#include <misc/IntervalSet.h>

#include "AmlflowLexer.h"
#include "AmlflowParser.h"
#include "compiler/suggest.h"

namespace amlflow::compiler {

using grammar::AmlflowLexer;
using grammar::AmlflowParser;

namespace {

bool is_name_token(size_t type) {
    return type == AmlflowLexer::ID || (type >= AmlflowLexer::IMPORT && type <= AmlflowLexer::FROM);
}

// How a token the user wrote is named in a message.
std::string describe_found(const antlr4::Token* token) {
    if (token == nullptr || token->getType() == antlr4::Token::EOF) return "end of file";
    size_t type = token->getType();
    std::string text = token->getText();
    switch (type) {
        case AmlflowLexer::STRING:
        case AmlflowLexer::TRIPLE_STRING: return "a string";
        case AmlflowLexer::INT:
        case AmlflowLexer::FLOAT: return "number " + text;
        case AmlflowLexer::DURATION: return "duration " + text;
        case AmlflowLexer::SIZE: return "size " + text;
        default: break;
    }
    if (is_name_token(type) && type != AmlflowLexer::ID) return "keyword '" + text + "'";
    return "'" + text + "'";
}

// The previous token on the default channel (comments and spaces are hidden).
const antlr4::Token* previous_visible(antlr4::Parser* parser, const antlr4::Token* token) {
    if (token == nullptr) return nullptr;
    auto* stream = parser->getTokenStream();
    for (ssize_t i = static_cast<ssize_t>(token->getTokenIndex()) - 1; i >= 0; --i) {
        const antlr4::Token* t = stream->get(static_cast<size_t>(i));
        if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL) return t;
    }
    return nullptr;
}

bool expects_value(const antlr4::misc::IntervalSet& set) {
    return set.contains(size_t{AmlflowLexer::INT}) && set.contains(size_t{AmlflowLexer::STRING}) &&
           set.contains(size_t{AmlflowLexer::LBRACKET});
}

// "'{' or '('", "a name", ... from the set the parser could have accepted.
std::string describe_expected(antlr4::Parser* parser, const antlr4::misc::IntervalSet& set) {
    if (expects_value(set)) return "a value";
    std::vector<std::string> names;
    bool name_added = false;
    // Keywords count as names only where any name would do; alone they are themselves.
    bool any_name = set.contains(size_t{AmlflowLexer::ID});
    for (ssize_t type : set.toList()) {
        if (type == static_cast<ssize_t>(antlr4::Token::EOF)) {
            names.push_back("end of file");
        } else if (is_name_token(static_cast<size_t>(type)) && any_name) {
            if (!name_added) names.push_back("a name");
            name_added = true;
        } else if (type == AmlflowLexer::STRING) {
            names.push_back("a string");
        } else {
            std::string literal = parser->getVocabulary().getLiteralName(type);
            if (!literal.empty()) names.push_back(literal);
        }
    }
    if (names.empty()) return "something else";
    if (names.size() > 4) names.resize(4);
    std::string out = names[0];
    for (size_t i = 1; i < names.size(); ++i) out += (i + 1 == names.size() ? " or " : ", ") + names[i];
    return out;
}

size_t rule_of(antlr4::Parser* parser) {
    auto* context = parser->getContext();
    return context ? context->getRuleIndex() : size_t{AmlflowParser::RuleFile};
}

struct Wording {
    std::string message;
    std::string help;
};

// `source = ./src`, `script = ../x.py`, `to = /tmp/out`: a path written without quotes.
// The help quotes the text as written: the tokens that follow with no space between them.
std::string unquoted_path_help(antlr4::Parser* parser, const antlr4::Token* found) {
    if (found == nullptr) return "";
    size_t type = found->getType();
    if (type != AmlflowLexer::DOT && type != AmlflowLexer::SLASH) return "";
    const antlr4::Token* equals = previous_visible(parser, found);
    if (equals == nullptr || equals->getType() != AmlflowLexer::ASSIGN) return "";
    const antlr4::Token* field = previous_visible(parser, equals);
    if (field == nullptr || !is_name_token(field->getType())) return "";
    auto* stream = parser->getTokenStream();
    std::string path = found->getText();
    size_t end = found->getStopIndex();
    for (size_t i = found->getTokenIndex() + 1; i < stream->size(); ++i) {
        const antlr4::Token* next = stream->get(i);
        size_t next_type = next->getType();
        if (next_type == antlr4::Token::EOF || next->getStartIndex() != end + 1) break;
        if (next_type == AmlflowLexer::COMMA || next_type == AmlflowLexer::RBRACE ||
            next_type == AmlflowLexer::RBRACKET || next->getChannel() != antlr4::Token::DEFAULT_CHANNEL) {
            break;
        }
        path += next->getText();
        end = next->getStopIndex();
    }
    return "a path is written as a string: " + field->getText() + " = \"" + path + "\"";
}

Wording word_error(antlr4::Parser* parser, const antlr4::Token* found) {
    const antlr4::Token* previous = previous_visible(parser, found);
    size_t rule = rule_of(parser);
    size_t found_type = found ? found->getType() : antlr4::Token::EOF;
    std::string found_text = describe_found(found);
    bool in_block = rule == AmlflowParser::RuleBlock || rule == AmlflowParser::RuleMember ||
                    rule == AmlflowParser::RuleMemberKey;
    if (in_block && previous && is_name_token(previous->getType()) &&
        found_type != AmlflowLexer::ASSIGN && found_type != AmlflowLexer::LBRACE) {
        return {"expected '=' after field '" + previous->getText() + "', found " + found_text,
                "fields are written 'name = value'"};
    }
    std::string found_word = found && found_type == AmlflowLexer::ID ? found->getText() : "";
    if (rule == AmlflowParser::RuleFile || rule == AmlflowParser::RuleTopDecl) {
        auto near = closest_name(found_word, {"import", "param", "let", "workspace", "environment", "compute", "experiment"});
        return {"expected a declaration, found " + found_text,
                near ? "did you mean '" + *near + "'?"
                     : "a file holds import, param, let, workspace, environment, compute and experiment declarations"};
    }
    if (rule == AmlflowParser::RuleExperimentDecl || rule == AmlflowParser::RuleStep) {
        auto near = closest_name(found_word, {"job", "sweep", "register", "export", "download"});
        return {"expected a step or '}', found " + found_text,
                near ? "did you mean '" + *near + "'?"
                     : "an experiment holds job, sweep, register model, export onnx and download steps"};
    }
    antlr4::misc::IntervalSet expected;
    try {
        expected = parser->getExpectedTokens();
    } catch (...) {
        // The generated ATN may not answer for a state it recovered into; the words
        // below still hold without the set.
    }
    std::string what = describe_expected(parser, expected);
    if (in_block && what.find("a name") != std::string::npos && expected.contains(size_t{AmlflowLexer::RBRACE})) {
        what = "a field or '}'";
    }
    std::string message = "expected " + what;
    if (what == "a name" && previous) message += " after '" + previous->getText() + "'";
    return {message + ", found " + found_text, unquoted_path_help(parser, found)};
}

std::string bad_character_help(char c) {
    switch (c) {
        case '#': return "comments start with '//'";
        case ';': return "fields are separated by new lines or commas";
        case '\'': return "strings use double quotes: \"...\"";
        case '$': return "interpolation is written inside a string: \"${name}\"";
        default: return "";
    }
}

enum class Level { Block, Experiment, File };

Level enclosing_level(antlr4::Parser* parser) {
    for (antlr4::RuleContext* c = parser->getContext(); c != nullptr; c = dynamic_cast<antlr4::RuleContext*>(c->parent)) {
        size_t rule = c->getRuleIndex();
        if (rule == AmlflowParser::RuleBlock || rule == AmlflowParser::RuleMember) return Level::Block;
        if (rule == AmlflowParser::RuleExperimentDecl) return Level::Experiment;
    }
    return Level::File;
}

bool starts(Level level, size_t type) {
    switch (level) {
        case Level::Block: return is_name_token(type) || type == AmlflowLexer::STRING;
        case Level::Experiment:
            return type == AmlflowLexer::JOB || type == AmlflowLexer::SWEEP || type == AmlflowLexer::REGISTER ||
                   type == AmlflowLexer::EXPORT || type == AmlflowLexer::DOWNLOAD;
        case Level::File:
            return type == AmlflowLexer::IMPORT || type == AmlflowLexer::PARAM || type == AmlflowLexer::LET ||
                   type == AmlflowLexer::WORKSPACE || type == AmlflowLexer::ENVIRONMENT ||
                   type == AmlflowLexer::COMPUTE || type == AmlflowLexer::EXPERIMENT;
    }
    return false;
}

}  // namespace

void LineErrorStrategy::recover(antlr4::Parser* parser, std::exception_ptr error) {
    antlr4::TokenStream* tokens = parser->getTokenStream();
    ssize_t index = static_cast<ssize_t>(tokens->index());
    if (index == last_index_) {
        // No progress since the last recovery here: let ANTLR's strategy consume.
        DefaultErrorStrategy::recover(parser, error);
        return;
    }
    last_index_ = index;
    Level level = enclosing_level(parser);
    size_t line = parser->getCurrentToken()->getLine();
    int depth = 0;  // braces opened while skipping
    for (antlr4::Token* t = parser->getCurrentToken(); t->getType() != antlr4::Token::EOF; t = parser->getCurrentToken()) {
        size_t type = t->getType();
        if (depth == 0 && level != Level::File && type == AmlflowLexer::RBRACE) break;
        if (depth == 0 && t->getLine() > line && starts(level, type)) break;
        if (type == AmlflowLexer::LBRACE) ++depth;
        if (type == AmlflowLexer::RBRACE && depth > 0) --depth;
        parser->consume();
    }
    // The next line is a fresh start: a mistake there is its own and is reported.
    endErrorCondition(parser);
}

void SyntaxErrorListener::syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending,
                                      size_t, size_t, const std::string&, std::exception_ptr) {
    ++count_;
    auto* parser = dynamic_cast<antlr4::Parser*>(recognizer);
    SourceRange range{&file_, offsets_.base(), offsets_.base()};
    if (offending && offending->getType() != antlr4::Token::EOF && offending->getStartIndex() != INVALID_INDEX) {
        range.begin = offsets_.byte_offset(offending->getStartIndex());
        range.end = offsets_.byte_offset(offending->getStopIndex() + 1);
    } else if (parser) {
        const antlr4::Token* previous = previous_visible(parser, offending);
        uint32_t at = previous ? offsets_.byte_offset(previous->getStopIndex() + 1)
                               : static_cast<uint32_t>(file_.text().size());
        range.begin = range.end = at;
    }
    size_t type = offending ? offending->getType() : antlr4::Token::EOF;
    if (type == AmlflowLexer::UNTERMINATED_COMMENT) {
        range.end = range.begin + 2;
        diagnostics_.error("syntax", range, "'/*' is never closed with '*/'");
        return;
    }
    if (type == AmlflowLexer::BAD_CHAR) {
        std::string text = offending->getText();
        if (text.size() == 1 && static_cast<unsigned char>(text[0]) < 0x20) {
            char code[8];
            std::snprintf(code, sizeof code, "\\x%02x", static_cast<unsigned char>(text[0]));
            text = code;
        }
        Diagnostic& d = diagnostics_.error("syntax", range, "unexpected character '" + text + "'");
        std::string help = bad_character_help(text.empty() ? '\0' : text[0]);
        if (!help.empty()) d.help(help);
        return;
    }
    if (parser == nullptr) {
        diagnostics_.error("syntax", range, "unexpected text");
        return;
    }
    Wording wording = word_error(parser, offending);
    Diagnostic& d = diagnostics_.error("syntax", range, wording.message);
    if (!wording.help.empty()) d.help(wording.help);
}

}  // namespace amlflow::compiler
