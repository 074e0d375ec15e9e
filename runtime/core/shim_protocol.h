// The connection between a rank shim (amlflow-rank, started by mpirun for each rank) and
// the supervisor (ShimGroup): length-prefixed frames over one TCP stream per rank.
//
//   frame = type (1 byte) · payload length (4 bytes, little endian) · payload
//
// The shim says hello (its Open MPI numbering and the attempt's secret), the supervisor
// answers with the rank's program, environment and folder; then the shim streams the
// rank's stdout and stderr as they come, and at the end its torchelastic error file and
// its exit. The supervisor can ask it to stop or signal the rank. A payload is raw bytes
// for output and the error file, JSON for everything else.
//
// Why not Open MPI's own output relay: --tag-output splits and glues lines,
// --output-filename writes on the remote host, and relaying through mpirun measured ~9x
// slower than direct writes (DESIGN §4).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace amlflow::runtime {

enum class FrameType : std::uint8_t {
    hello = 1,   // shim: {"secret", "rank", "size", "local_rank", "local_size", "host", "pid"}
    start,       // supervisor: {"argv": [...], "env": {...}, "cwd", "error_file", and optional
                 //   "metrics_file" (relay it), "interface" (a CIDR or NIC: name the NIC for gloo/NCCL),
                 //   "inherit_env" (env goes on top of the shim's own), "log_file" (the rank
                 //   writes it itself; out frames then carry only what the display takes, at
                 //   most "display_rate" bytes a second, 0: all, -1: none, and skipped frames the rest)}
    started,     // shim: {"pid"} of the rank's program
    out,         // shim: bytes the rank wrote to stdout (with "log_file": to its log file)
    err,         // shim: bytes the rank wrote to stderr
    error_file,  // shim: the rank's TORCHELASTIC_ERROR_FILE, as written
    exit,        // shim: {"code", "signal", "core"}: how the rank's program ended
    stop,        // supervisor: {"grace_ms"}: SIGTERM the rank's group, SIGKILL after grace
    signal,      // supervisor: {"signal"}: send it to the rank's group (SIGABRT for stacks)
    refused,     // supervisor: why the hello was refused (text); the connection then closes
    heartbeat,   // both ways, empty, every kHeartbeatInterval: silence means a dead host or network
    metrics,     // shim: new whole lines of the rank's metrics file, where the supervisor cannot read it
    skipped,     // shim: how many bytes (decimal) of the rank's own log file the display did not get
};

// Each side says something at least this often; the supervisor counts a shim silent for
// kSupervisorSilence as lost with its host (DESIGN §5: noticed within 30 s), and a shim
// that hears nothing for kShimSilence kills its rank (a partition closes no connection).
constexpr auto kHeartbeatInterval = std::chrono::seconds(2);
constexpr auto kSupervisorSilence = std::chrono::seconds(20);
constexpr auto kShimSilence = std::chrono::seconds(30);

constexpr std::size_t kMaxFramePayload = 16 * 1024 * 1024;

// The environment variables through which the supervisor's address and the attempt's
// secret reach each shim (passed by mpirun with -x).
constexpr const char* kShimAddressVariable = "AMLFLOW_SHIM_ADDRESS";
constexpr const char* kShimSecretVariable = "AMLFLOW_SHIM_SECRET";

struct Frame {
    FrameType type = FrameType::hello;
    std::string payload;
};

// A frame as it lies in the reader's buffer: valid until the reader's next append.
struct FrameView {
    FrameType type = FrameType::hello;
    std::string_view payload;
};

std::string encode_frame(FrameType type, std::string_view payload);

// Splits a byte stream into frames, whatever pieces it arrives in.
class FrameReader {
public:
    void append(const char* data, std::size_t size) { buffer_.append(data, size); }
    // The next complete frame, nullopt when more bytes are needed, or nullopt with
    // *error set when the stream is not a frame stream (unknown type, oversized).
    std::optional<Frame> next(std::string* error);
    // The same without copying the payload (rank output, megabytes a second).
    std::optional<FrameView> next_view(std::string* error);

private:
    std::string buffer_;
    std::size_t offset_ = 0;
};

// Writes a whole frame to `fd`, waiting (poll) while a non-blocking socket is full.
// False when the peer is gone. Never raises SIGPIPE.
bool write_frame(int fd, FrameType type, std::string_view payload);

// 32 random bytes as hex, from the kernel's generator.
std::string random_secret();

// Compares without an early exit, so the time taken says nothing about the secret.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace amlflow::runtime
