// Words the editor explains: keywords and built-in functions (fields and blocks come
// from compiler/schema.h, the one table that also drives the checker and the reference).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "compiler/schema.h"

namespace amlflow::lsp {

struct BuiltinDoc {
    std::string_view name;
    std::string_view signature;  // "loguniform(low, high)"
    std::string_view doc;
    bool search_space = false;   // belongs in a sweep's `space`
    bool objective = false;      // maximize / minimize
};

const std::vector<BuiltinDoc>& builtin_docs();
const BuiltinDoc* find_builtin(std::string_view name);

// Markdown for a keyword, or empty when `word` is none.
std::string keyword_markdown(std::string_view word);

// Markdown for a field of `block`: its type, default, whether required, its meaning.
std::string field_markdown(const compiler::BlockSpec& block, const compiler::FieldSpec& field);

// Markdown for a kind of block: its name, meaning and fields.
std::string block_markdown(const compiler::BlockSpec& block);

}  // namespace amlflow::lsp
