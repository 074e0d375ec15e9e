// JSON-RPC messages over a byte stream, framed as the Language Server Protocol frames
// them: `Content-Length: N` headers, a blank line, then N bytes of JSON.
//
// The reader never trusts the stream: a header block with no usable length is reported
// (the server answers it with a ParseError) and reading goes on with the next header,
// so one bad message cannot wedge or end the server.
#pragma once

#include <cstddef>
#include <string>

namespace amlflow::lsp {

struct Frame {
    enum class Kind {
        Message,    // `body` holds one message's bytes (not yet parsed as JSON)
        BadHeader,  // a header block without a valid Content-Length; `body` says why
        End,        // the stream is closed (or failed): nothing more will come
    };
    Kind kind = Kind::End;
    std::string body;
};

// Reads frames from a file descriptor with its own buffer (no stdio).
class FrameReader {
public:
    explicit FrameReader(int fd) : fd_(fd) {}
    Frame next();

private:
    bool fill();                                  // false at end of stream
    bool read_line(std::string& line);            // one header line, without its "\r\n"
    bool read_exactly(size_t count, std::string& out);

    int fd_;
    std::string buffer_;
    size_t start_ = 0;  // unread bytes are buffer_[start_, size)
};

// Writes whole frames to a file descriptor; false when the peer is gone.
bool write_frame(int fd, const std::string& body);

// The largest body accepted: an editor buffer is far smaller; a bigger claim is a broken
// header, not something to allocate for.
constexpr size_t kMaxBodyBytes = 256u << 20;

}  // namespace amlflow::lsp
