// The error file that torch.distributed.elastic's @record decorator writes when a rank
// raises (TORCHELASTIC_ERROR_FILE, set for every rank): the exception's type and message
// and the rank's traceback. The failure report shows it in place of guessing from the log.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace amlflow::runtime {

// {"type": "ValueError", "message": "bad input", "traceback": "Traceback ...", "timestamp": N}
// from the file's text; nullopt when it is empty or not an error file.
std::optional<nlohmann::json> parse_error_file(const std::string& text);

// The file at `path` as the rank left it (at most 64 KiB), or "" when there is none.
std::string read_error_file(const std::string& path);

// "ValueError: bad input" from a parsed error file.
std::string exception_summary(const nlohmann::json& error);

}  // namespace amlflow::runtime
