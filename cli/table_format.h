// Small helpers the listing commands share: padded columns and local clock times.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

namespace amlflow::cli {

// `text` left-aligned in `width` columns, always followed by at least one space.
inline std::string pad(const std::string& text, size_t width) {
    return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

// Unix milliseconds as a local "YYYY-MM-DD HH:MM:SS"; "-" for 0 (not yet).
inline std::string clock_time(int64_t ms) {
    if (ms == 0) return "-";
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&seconds));
    return text;
}

}  // namespace amlflow::cli
