// The documents the editor has open: their text, version and the one compile of that
// text that every request about the document reads (diagnostics, hover, completion,
// definition, symbols). A document is compiled once per change and never re-parsed
// for a request.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "compiler/compile.h"
#include "editor/lsp/text_position.h"

namespace amlflow::lsp {

struct Document {
    std::string uri;
    std::string path;  // what the compiler calls it: imports resolve from its folder
    std::string text;
    int64_t version = 0;
    TextIndex index;   // over `text`
    std::unique_ptr<compiler::CompileResult> compiled;

    // The main module (the document itself), or null when nothing could be loaded.
    const compiler::LoadedModule* module() const;
    const compiler::ModuleSet* modules() const { return compiled ? &compiled->modules : nullptr; }
};

class DocumentStore {
public:
    // Opens or replaces a document, and compiles it.
    Document& update(const std::string& uri, std::string text, int64_t version);
    void close(const std::string& uri);
    Document* find(const std::string& uri);

private:
    std::map<std::string, std::unique_ptr<Document>> documents_;
};

}  // namespace amlflow::lsp
