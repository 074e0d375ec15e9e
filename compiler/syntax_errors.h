// Turns ANTLR's syntax errors into diagnostics worded in amlflow's terms:
// "expected '=' after field 'script'", "expected a value, found '}'". Part of the parse
// driver: it includes the generated parser, nothing outside the driver does.
#pragma once

#include <BaseErrorListener.h>
#include <DefaultErrorStrategy.h>

#include "compiler/diagnostics.h"
#include "compiler/utf8.h"

namespace amlflow::compiler {

class SyntaxErrorListener : public antlr4::BaseErrorListener {
public:
    // `offsets` maps token positions to the file: a sub-parse (an interpolation) reads a slice.
    SyntaxErrorListener(const SourceFile& file, const OffsetMap& offsets, Diagnostics& diagnostics)
        : file_(file), offsets_(offsets), diagnostics_(diagnostics) {}

    void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t line,
                     size_t column, const std::string& message,
                     std::exception_ptr error) override;

    size_t count() const { return count_; }

private:
    const SourceFile& file_;
    const OffsetMap& offsets_;
    Diagnostics& diagnostics_;
    size_t count_ = 0;
};

// Recovers from a syntax error by skipping to the next line that starts what the
// enclosing construct can hold (a field, a step, a declaration) or to its closing '}'.
// ANTLR's own recovery resynchronises token by token, which turns one missing '=' into
// a cascade of errors; lines are how people write and fix these files.
class LineErrorStrategy : public antlr4::DefaultErrorStrategy {
public:
    void recover(antlr4::Parser* recognizer, std::exception_ptr error) override;

private:
    ssize_t last_index_ = -1;
};

}  // namespace amlflow::compiler
