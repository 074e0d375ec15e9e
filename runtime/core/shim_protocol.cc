#include "runtime/core/shim_protocol.h"

#include <cerrno>

#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace amlflow::runtime {

std::string encode_frame(FrameType type, std::string_view payload) {
    std::string frame;
    frame.reserve(5 + payload.size());
    frame.push_back(static_cast<char>(type));
    auto size = static_cast<std::uint32_t>(payload.size());
    for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
    frame.append(payload);
    return frame;
}

std::optional<Frame> FrameReader::next(std::string* error) {
    auto view = next_view(error);
    if (!view) return std::nullopt;
    return Frame{view->type, std::string(view->payload)};
}

std::optional<FrameView> FrameReader::next_view(std::string* error) {
    // What the previous view pointed at is dropped now, once it is most of the buffer, so
    // the buffer stays small.
    if (offset_ > 64 * 1024 && offset_ * 2 > buffer_.size()) {
        buffer_.erase(0, offset_);
        offset_ = 0;
    }
    std::size_t available = buffer_.size() - offset_;
    if (available < 5) return std::nullopt;
    const auto* head = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
    std::uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= static_cast<std::uint32_t>(head[1 + i]) << (8 * i);
    if (head[0] < static_cast<unsigned char>(FrameType::hello) ||
        head[0] > static_cast<unsigned char>(FrameType::skipped) || size > kMaxFramePayload) {
        *error = "not an amlflow shim frame (type " + std::to_string(head[0]) + ", " + std::to_string(size) + " bytes)";
        return std::nullopt;
    }
    if (available < 5 + static_cast<std::size_t>(size)) return std::nullopt;
    FrameView frame{static_cast<FrameType>(head[0]), std::string_view(buffer_).substr(offset_ + 5, size)};
    offset_ += 5 + size;
    return frame;
}

bool write_frame(int fd, FrameType type, std::string_view payload) {
    // The header and the payload in one system call, the payload not copied.
    char head[5] = {static_cast<char>(type)};
    auto size = static_cast<std::uint32_t>(payload.size());
    for (int i = 0; i < 4; ++i) head[1 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
    std::size_t total = sizeof head + payload.size(), done = 0;
    while (done < total) {
        iovec parts[2];
        int count = 0;
        if (done < sizeof head) parts[count++] = {head + done, sizeof head - done};
        std::size_t from = done < sizeof head ? 0 : done - sizeof head;
        if (from < payload.size()) parts[count++] = {const_cast<char*>(payload.data() + from), payload.size() - from};
        msghdr message{};
        message.msg_iov = parts;
        message.msg_iovlen = static_cast<std::size_t>(count);
        ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd wait{fd, POLLOUT, 0};
            if (::poll(&wait, 1, 30000) <= 0) return false;  // a peer that reads nothing for 30 s
            continue;
        }
        return false;
    }
    return true;
}

std::string random_secret() {
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n > 0) got += static_cast<std::size_t>(n);
        else if (errno != EINTR) break;
    }
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char b : bytes) {
        hex.push_back(digits[b >> 4]);
        hex.push_back(digits[b & 15]);
    }
    return hex;
}

bool secrets_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    std::size_t n = a.size() < b.size() ? a.size() : b.size();
    for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace amlflow::runtime
