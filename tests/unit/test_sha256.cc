#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include "compiler/sha256.h"
#include "compiler/sha256_compress.h"

using amlflow::compiler::Sha256;
using amlflow::compiler::sha256_hex;

BOOST_AUTO_TEST_SUITE(sha256)

// Vectors from NIST FIPS 180-4 examples (SHA256.pdf) and the NIST CAVS short messages.
BOOST_AUTO_TEST_CASE(empty_message) {
    BOOST_TEST(sha256_hex("") ==
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(abc) {
    BOOST_TEST(sha256_hex("abc") ==
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(two_block_448_bit_message) {
    BOOST_TEST(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

BOOST_AUTO_TEST_CASE(message_of_896_bits) {
    BOOST_TEST(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                          "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu") ==
               "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

BOOST_AUTO_TEST_CASE(one_million_a_in_uneven_chunks) {
    // Chunk sizes that straddle block boundaries in every way: 1, 63, 64, 65, 127, ...
    const std::string as(1000, 'a');
    const size_t sizes[] = {1, 63, 64, 65, 127, 128, 129, 7, 333, 1000};
    Sha256 hasher;
    size_t remaining = 1000000;
    for (size_t i = 0; remaining > 0; ++i) {
        size_t take = std::min(sizes[i % 10], remaining);
        hasher.update(as.data(), take);
        remaining -= take;
    }
    BOOST_TEST(hasher.hex_digest() ==
               "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(chunking_does_not_change_the_digest) {
    std::string message;
    for (int i = 0; i < 300; ++i) message.push_back(static_cast<char>(i * 7));
    const std::string whole = sha256_hex(message);
    for (size_t split = 0; split <= message.size(); ++split) {
        Sha256 hasher;
        hasher.update(std::string_view(message).substr(0, split));
        hasher.update(std::string_view(message).substr(split));
        BOOST_TEST_REQUIRE(hasher.hex_digest() == whole);
    }
}

BOOST_AUTO_TEST_CASE(padding_edge_lengths) {
    // 55 bytes fits the length in one block; 56 needs a second: both paths of the padding.
    BOOST_TEST(sha256_hex(std::string(55, 'a')) ==
               "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    BOOST_TEST(sha256_hex(std::string(56, 'a')) ==
               "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    BOOST_TEST(sha256_hex(std::string(64, 'a')) ==
               "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

BOOST_AUTO_TEST_CASE(binary_bytes_including_nul) {
    const std::string bytes("\x00\xff\x80", 3);
    BOOST_TEST(sha256_hex(bytes).size() == 64u);
    BOOST_TEST(sha256_hex(bytes) != sha256_hex(std::string("\xff\x80", 2)));
}

BOOST_AUTO_TEST_CASE(hex_digest_resets_for_reuse) {
    Sha256 hasher;
    hasher.update("something else");
    hasher.hex_digest();
    hasher.update(std::string_view("abc"));
    BOOST_TEST(hasher.hex_digest() == sha256_hex("abc"));
}


// The processor's SHA instructions and the portable code give the same state, for many
// blocks at once and for states other than the initial one. (Where the processor has no
// such instructions, the vectors above test the portable code alone.)
BOOST_AUTO_TEST_CASE(hardware_and_portable_compression_agree) {
    using namespace amlflow::compiler;
    if (!sha256_hardware_available()) {
        BOOST_TEST_MESSAGE("this processor has no SHA instructions: the portable code alone is in use");
        return;
    }
    uint32_t seed = 12345;
    auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
    for (size_t blocks = 1; blocks <= 17; ++blocks) {
        std::string data(64 * blocks, '\0');
        for (char& c : data) c = static_cast<char>(next() >> 24);
        uint32_t hardware[8], portable[8];
        for (int i = 0; i < 8; ++i) hardware[i] = portable[i] = next();
        const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
        sha256_hardware_compress(hardware, bytes, blocks);
        sha256_portable_compress(portable, bytes, blocks);
        BOOST_TEST_REQUIRE(std::equal(hardware, hardware + 8, portable), blocks << " blocks");
    }
}

BOOST_AUTO_TEST_SUITE_END()
