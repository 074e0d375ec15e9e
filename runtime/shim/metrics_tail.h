// The new whole lines of a file another process appends to: how the shim relays a rank's
// metrics (JSON lines) from a host whose files the supervisor cannot read.
#pragma once

#include <cstdint>
#include <string>

namespace amlflow::shim {

class MetricsTail {
public:
    explicit MetricsTail(std::string path) : path_(std::move(path)) {}
    // The lines appended since the last call, each with its newline; a line still being
    // written waits for its end. With `final`, a last unterminated line is returned too.
    std::string read_new(bool final = false);
    bool enabled() const { return !path_.empty(); }

private:
    std::string path_;
    std::uint64_t offset_ = 0;
    std::string partial_;
};

}  // namespace amlflow::shim
