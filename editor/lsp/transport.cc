#include "editor/lsp/transport.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace amlflow::lsp {

namespace {

constexpr size_t kMaxHeaderLine = 8192;

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// The value of a Content-Length header in `line`, searched anywhere in it: after a
// broken frame the next header can follow the previous body on the same line.
bool parse_length(const std::string& line, size_t* length, std::string* why) {
    std::string lower = lowercase(line);
    size_t at = lower.rfind("content-length:");
    if (at == std::string::npos) return false;
    size_t i = at + 15;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t digits = i;
    unsigned long long value = 0;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) {
        value = value * 10 + static_cast<unsigned>(line[i] - '0');
        if (value > kMaxBodyBytes) break;
        ++i;
    }
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == digits || i != line.size()) {
        *why = "invalid Content-Length header: '" + line.substr(at) + "'";
        return false;
    }
    if (value > kMaxBodyBytes) {
        *why = "Content-Length is larger than " + std::to_string(kMaxBodyBytes) + " bytes";
        return false;
    }
    *length = static_cast<size_t>(value);
    return true;
}

}  // namespace

bool FrameReader::fill() {
    if (start_ > 0 && start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    } else if (start_ > (1u << 20)) {
        buffer_.erase(0, start_);
        start_ = 0;
    }
    char chunk[65536];
    for (;;) {
        ssize_t got = ::read(fd_, chunk, sizeof chunk);
        if (got > 0) {
            buffer_.append(chunk, static_cast<size_t>(got));
            return true;
        }
        if (got < 0 && errno == EINTR) continue;
        return false;
    }
}

bool FrameReader::read_line(std::string& line) {
    line.clear();
    for (;;) {
        size_t newline = buffer_.find('\n', start_);
        if (newline != std::string::npos) {
            line.append(buffer_, start_, newline - start_);
            start_ = newline + 1;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            return true;
        }
        // A header line longer than any real one: keep its tail only, it may hold the
        // next Content-Length.
        line.append(buffer_, start_, std::string::npos);
        start_ = buffer_.size();
        if (line.size() > kMaxHeaderLine) line.erase(0, line.size() - kMaxHeaderLine);
        if (!fill()) return false;
    }
}

bool FrameReader::read_exactly(size_t count, std::string& out) {
    while (buffer_.size() - start_ < count) {
        if (!fill()) return false;
    }
    out.assign(buffer_, start_, count);
    start_ += count;
    return true;
}

Frame FrameReader::next() {
    Frame frame;
    std::string line, why;
    size_t length = 0;
    bool have_length = false, saw_header = false;
    for (;;) {
        if (!read_line(line)) return Frame{Frame::Kind::End, ""};
        if (line.empty()) {
            if (!saw_header) continue;  // stray blank lines between frames
            break;
        }
        saw_header = true;
        size_t value = 0;
        if (parse_length(line, &value, &why)) {
            length = value;
            have_length = true;
            why.clear();
        }
    }
    if (!have_length) {
        return Frame{Frame::Kind::BadHeader, why.empty() ? "a message header without Content-Length" : why};
    }
    frame.kind = Frame::Kind::Message;
    if (!read_exactly(length, frame.body)) return Frame{Frame::Kind::End, ""};
    return frame;
}

bool write_frame(int fd, const std::string& body) {
    std::string frame = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    size_t done = 0;
    while (done < frame.size()) {
        ssize_t wrote = ::write(fd, frame.data() + done, frame.size() - done);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) return false;
        done += static_cast<size_t>(wrote);
    }
    return true;
}

}  // namespace amlflow::lsp
