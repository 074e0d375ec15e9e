// SHA-256 (FIPS 180-4). Job snapshots and cache keys are content addressed, and the
// digests must match what other tools compute for the same bytes, so this is the
// standard algorithm rather than a faster non-cryptographic hash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace amlflow::compiler {

class Sha256 {
public:
    Sha256();

    void update(std::string_view data);
    void update(const void* data, size_t size);

    // Pads and finishes the message, then returns the digest as 64 lowercase hex
    // characters. The object is reset afterwards, so it can hash a new message.
    std::string hex_digest();

private:
    void compress(const uint8_t* blocks, size_t count);
    void reset();

    std::array<uint32_t, 8> state_;
    std::array<uint8_t, 64> buffer_;
    size_t buffered_ = 0;         // bytes waiting in buffer_
    uint64_t total_bytes_ = 0;    // message length so far, for the final padding
};

// One-shot convenience: the hex digest of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace amlflow::compiler
