// Diagnostics: collected, never thrown. Each has a class (`code`) so that tests, tools
// (`--diagnostics json`) and the language server can tell them apart without parsing
// the wording.
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "compiler/source.h"

namespace amlflow::compiler {

enum class Severity { Error, Warning };

struct DiagnosticNote {
    enum class Kind { Note, Help };
    Kind kind = Kind::Note;
    std::string message;
    SourceRange range;  // may be invalid: a note with no place of its own
};

struct Diagnostic {
    Severity severity = Severity::Error;
    std::string code;
    std::string message;
    SourceRange range;
    std::vector<DiagnosticNote> notes;

    Diagnostic& note(std::string text, SourceRange where = {});
    Diagnostic& help(std::string text);
};

class Diagnostics {
public:
    Diagnostic& error(std::string code, SourceRange range, std::string message);
    Diagnostic& warning(std::string code, SourceRange range, std::string message);

    bool has_errors() const { return error_count_ > 0; }
    size_t error_count() const { return error_count_; }
    const std::vector<Diagnostic>& all() const { return items_; }
    // Reports `other`'s diagnostics here, in their order, as if they had been reported
    // here in the first place (a repeat of one already here is dropped).
    void append(const Diagnostics& other);
    // In source order (file by file as first seen, then by offset), stable otherwise.
    std::vector<Diagnostic> sorted() const;

private:
    Diagnostic& add(Severity severity, std::string code, SourceRange range, std::string message);

    std::vector<Diagnostic> items_;
    size_t error_count_ = 0;
    // A template job's body is evaluated for each step that binds it: the same mistake
    // is reported once.
    std::set<std::tuple<const SourceFile*, uint32_t, uint32_t, std::string>> seen_;
    Diagnostic discarded_;
};

struct RenderOptions {
    bool color = false;
};

std::string render_text(const Diagnostic& diagnostic, const RenderOptions& options);
std::string render_text(const Diagnostics& diagnostics, const RenderOptions& options);
std::string render_json(const Diagnostics& diagnostics);

}  // namespace amlflow::compiler
