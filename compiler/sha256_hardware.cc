#include "compiler/sha256_compress.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define AMLFLOW_SHA_NI 1
#endif

namespace amlflow::compiler {

#ifdef AMLFLOW_SHA_NI

// CPUID, as clang's __builtin_cpu_supports knows no "sha": leaf 1 ECX bit 19 is SSE4.1,
// leaf 7 EBX bit 29 is SHA.
bool sha256_hardware_available() {
    static const bool available = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19))) return false;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        return (b & (1u << 29)) != 0;
    }();
    return available;
}

// The instructions keep the state as ABEF and CDGH and do two rounds each; the message
// schedule is four words at a time: w[t..t+3] from w[t-16..t-1] with msg1 (the sigma0
// part), the words t-7..t-4 (alignr), and msg2 (the sigma1 part).
__attribute__((target("sha,sse4.1"))) void sha256_hardware_compress(uint32_t state[8], const uint8_t* blocks,
                                                                      size_t count) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[0]));
    __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[4]));
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    for (; count > 0; --count, blocks += 64) {
        __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i words[16];
        for (int i = 0; i < 16; ++i) {
            if (i < 4) {
                __m128i loaded = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * i));
                words[i] = _mm_shuffle_epi8(loaded, byte_swap);
            } else {
                __m128i partial = _mm_sha256msg1_epu32(words[i - 4], words[i - 3]);
                partial = _mm_add_epi32(partial, _mm_alignr_epi8(words[i - 1], words[i - 2], 4));
                words[i] = _mm_sha256msg2_epu32(partial, words[i - 1]);
            }
            __m128i constants = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&kSha256RoundConstants[4 * i]));
            __m128i message = _mm_add_epi32(words[i], constants);
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, message);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(message, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[0]), _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[4]), _mm_alignr_epi8(dchg, feba, 8));
}

#else

bool sha256_hardware_available() { return false; }
void sha256_hardware_compress(uint32_t*, const uint8_t*, size_t) {}

#endif

}  // namespace amlflow::compiler
