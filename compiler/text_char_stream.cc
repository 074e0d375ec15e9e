#include "compiler/text_char_stream.h"

#include "compiler/utf8.h"

namespace amlflow::compiler {

namespace {

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

}  // namespace

TextCharStream::TextCharStream(std::string_view text) {
    // As ANTLRInputStream: a UTF-8 byte order mark is not part of the text.
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    bool ascii = true;
    for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) {
        ascii_ = text;
        size_ = text.size();
        return;
    }
    size_t code_points = 0;
    for (size_t i = 0; i < text.size(); ++code_points) {
        size_t length = utf8_sequence_length(text, i);
        i += length == 0 ? 1 : length;
    }
    wide_.reserve(code_points);
    for (size_t i = 0; i < text.size();) {
        size_t length = utf8_sequence_length(text, i);
        auto byte = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(text[i + k])); };
        switch (length) {
            case 1: wide_ += byte(0); break;
            case 2: wide_ += ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F); break;
            case 3: wide_ += ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F); break;
            case 4:
                wide_ += ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
                break;
            default: wide_ += U'\uFFFD'; break;
        }
        i += length == 0 ? 1 : length;
    }
    size_ = wide_.size();
}

std::string TextCharStream::getText(const antlr4::misc::Interval& interval) {
    if (interval.a < 0 || interval.b < interval.a) return "";
    size_t start = static_cast<size_t>(interval.a);
    if (start >= size_) return "";
    size_t stop = static_cast<size_t>(interval.b) < size_ ? static_cast<size_t>(interval.b) : size_ - 1;
    if (wide_.empty()) return std::string(ascii_.substr(start, stop - start + 1));
    std::string out;
    for (size_t k = start; k <= stop; ++k) append_utf8(out, wide_[k]);
    return out;
}

std::string TextCharStream::toString() const {
    if (wide_.empty()) return std::string(ascii_);
    std::string out;
    for (char32_t c : wide_) append_utf8(out, c);
    return out;
}

}  // namespace amlflow::compiler
