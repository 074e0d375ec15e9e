#include "runtime/shim/metrics_tail.h"

#include <fcntl.h>
#include <unistd.h>

namespace amlflow::shim {

std::string MetricsTail::read_new(bool final) {
    if (path_.empty()) return "";
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";  // not written yet
    char buffer[65536];
    for (;;) {
        ssize_t n = pread(fd, buffer, sizeof buffer, static_cast<off_t>(offset_));
        if (n <= 0) break;
        partial_.append(buffer, static_cast<size_t>(n));
        offset_ += static_cast<std::uint64_t>(n);
    }
    close(fd);
    size_t end = partial_.size();
    if (!final) {
        size_t newline = partial_.rfind('\n');
        if (newline == std::string::npos) return "";
        end = newline + 1;
    }
    if (end == 0) return "";
    std::string lines = partial_.substr(0, end);
    partial_.erase(0, end);
    if (final && !lines.empty() && lines.back() != '\n') lines += '\n';
    return lines;
}

}  // namespace amlflow::shim
