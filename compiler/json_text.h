// Compact JSON text, as compact_json writes it (plan_step.h), read in place. A plan holds
// each node's spec as such text; the text form of a large plan reads the specs here
// rather than parsing each into nlohmann objects, which cost as much time as building the
// plan. Values are views into the text: a scalar's view is its JSON text (a number's as
// nlohmann dumps it), a string's includes its quotes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace amlflow::compiler::json_text {

// The end of the value that starts at `at`.
size_t skip(std::string_view text, size_t at);

// A string value's text, its escapes undone.
std::string string_of(std::string_view value);

inline bool is_object(std::string_view value) { return !value.empty() && value[0] == '{'; }
inline bool is_array(std::string_view value) { return !value.empty() && value[0] == '['; }
inline bool is_string(std::string_view value) { return !value.empty() && value[0] == '"'; }

// Calls visit(key, value) for each member of an object in order; the key as written,
// quotes included (string_of gives its text).
template <typename Visit>
void each_member(std::string_view object, Visit visit) {
    size_t at = 1;
    while (at < object.size() && object[at] != '}') {
        size_t key_end = skip(object, at);
        size_t value_end = skip(object, key_end + 1);  // past the colon
        visit(object.substr(at, key_end - at), object.substr(key_end + 1, value_end - key_end - 1));
        at = value_end + (value_end < object.size() && object[value_end] == ',' ? 1 : 0);
    }
}

// Calls visit(item) for each item of an array in order.
template <typename Visit>
void each_item(std::string_view array, Visit visit) {
    size_t at = 1;
    while (at < array.size() && array[at] != ']') {
        size_t end = skip(array, at);
        visit(array.substr(at, end - at));
        at = end + (end < array.size() && array[end] == ',' ? 1 : 0);
    }
}

// The value of an object's member, when it has one.
std::optional<std::string_view> member(std::string_view object, std::string_view key);

// Appends the compact value as nlohmann's dump(2) writes it (two spaces a level, `": "`
// after a key, `{}` and `[]` when empty), its nested lines indented `depth` levels: the
// pretty text of a value nested that deep in a larger document.
void append_pretty(std::string& out, std::string_view value, int depth);

}  // namespace amlflow::compiler::json_text
