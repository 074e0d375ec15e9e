// SHA-256's compression function, portable, and on the processor's SHA extensions (x86
// SHA-NI) where it has them: about six times the portable code's speed. A plan hashes
// every step's fields and a run hashes every file of a job's source folder, so this is on
// the path of every `plan`, `check` and `run`. Part of compiler/sha256; the two are
// declared here so that tests can hold one against the other.
#pragma once

#include <cstddef>
#include <cstdint>

namespace amlflow::compiler {

// The standard's round constants (compiler/sha256.cc).
extern const uint32_t kSha256RoundConstants[64];

// Compresses `count` 64-byte blocks into `state` (compiler/sha256.cc).
void sha256_portable_compress(uint32_t state[8], const uint8_t* blocks, size_t count);

// Whether this processor has the instructions (checked once).
bool sha256_hardware_available();
// Compresses `count` 64-byte blocks into `state`. Only when sha256_hardware_available().
void sha256_hardware_compress(uint32_t state[8], const uint8_t* blocks, size_t count);

}  // namespace amlflow::compiler
