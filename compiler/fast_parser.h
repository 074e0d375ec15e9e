// The generated parser with its predictions made by compiler/fast_prediction.h, and
// ANTLR 4.9's rule bookkeeping done by static casts. The
// runtime's enterRule and enterOuterAlt find a rule's parent context with a dynamic_cast
// (about 280 instructions each, ~3 % of a large file's compile; exitRule does too, but
// it is not virtual); every parent in a tree this parser builds is a ParserRuleContext,
// which is what later ANTLR runtimes assume too (their `downCast`). Otherwise the
// runtime's own code, step for step. Part of the parse driver: only it includes the
// generated code.
#pragma once

#include <ParserRuleContext.h>
#include <TokenStream.h>

#include "AmlflowParser.h"
#include "compiler/fast_prediction.h"

namespace amlflow::compiler {

class FastParser : public grammar::AmlflowParser {
public:
    explicit FastParser(antlr4::TokenStream* input) : grammar::AmlflowParser(input) {
        delete _interpreter;  // the generated parser's simulator, unused yet
        _interpreter = make_fast_prediction(this);
    }

    void enterRule(antlr4::ParserRuleContext* context, size_t state, size_t) override {
        setState(state);
        _ctx = context;
        _ctx->start = _input->LT(1);
        if (_buildParseTrees && _ctx->parent != nullptr) parent_of(_ctx)->addChild(_ctx);
        if (!_parseListeners.empty()) triggerEnterRuleEvent();
    }

    void enterOuterAlt(antlr4::ParserRuleContext* context, size_t alternative) override {
        context->setAltNumber(alternative);
        if (_buildParseTrees && _ctx != context && _ctx->parent != nullptr) {
            antlr4::ParserRuleContext* parent = parent_of(_ctx);
            parent->removeLastChild();
            parent->addChild(context);
        }
        _ctx = context;
    }

private:
    static antlr4::ParserRuleContext* parent_of(antlr4::ParserRuleContext* context) {
        return static_cast<antlr4::ParserRuleContext*>(context->parent);
    }
};

}  // namespace amlflow::compiler
