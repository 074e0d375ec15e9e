// ANTLR's input stream over a file's text. ANTLRInputStream converts the whole text to
// UTF-32 first, into a string grown as it goes (about 20 bytes per byte of the file at
// its peak); this stream reads ASCII text (the common case) in place, and decodes other
// text once into a string of the exact size. Positions are code points, as in
// ANTLRInputStream: OffsetMap (utf8.h) turns them into byte offsets. Part of the parse
// driver: only it and the formatter's tokenizer include it.
#pragma once

#include <string>
#include <string_view>

#include <CharStream.h>
#include <misc/Interval.h>

namespace amlflow::compiler {

class TextCharStream final : public antlr4::CharStream {
public:
    // `text` must outlive the stream and every token lexed from it: tokens read their
    // text from the stream. Malformed UTF-8 reads as U+FFFD, one code point per byte. A
    // leading byte order mark is skipped, as ANTLRInputStream skips it.
    explicit TextCharStream(std::string_view text);

    void consume() override {
        if (position_ < size_) ++position_;
    }
    size_t LA(ssize_t i) override {
        if (i == 0) return 0;  // undefined, as in ANTLRInputStream
        ssize_t at = static_cast<ssize_t>(position_) + (i < 0 ? i : i - 1);
        if (at < 0 || at >= static_cast<ssize_t>(size_)) return antlr4::IntStream::EOF;
        size_t k = static_cast<size_t>(at);
        return wide_.empty() ? static_cast<unsigned char>(ascii_[k]) : static_cast<size_t>(wide_[k]);
    }
    ssize_t mark() override { return -1; }
    void release(ssize_t) override {}
    size_t index() override { return position_; }
    void seek(size_t index) override { position_ = index < size_ ? index : size_; }
    size_t size() override { return size_; }
    std::string getSourceName() const override { return antlr4::IntStream::UNKNOWN_SOURCE_NAME; }
    std::string getText(const antlr4::misc::Interval& interval) override;
    std::string toString() const override;

private:
    std::string_view ascii_;  // the text, when it is ASCII
    std::u32string wide_;     // its code points otherwise
    size_t size_ = 0;         // in code points
    size_t position_ = 0;
};

}  // namespace amlflow::compiler
