// Reads the metrics channel (DESIGN §4): each rank of an attempt appends JSON lines to
// its own file, `<attempt metrics folder>/rank-<r>.jsonl`. The reader keeps an offset per
// file and hands back only complete new lines, so it can be called while ranks still
// write (for the board and early stopping) and once more when the attempt ends.
//
// Lines (stdlib/python/amlflow.py writes them):
//   {"name": "loss", "value": 0.25, "step": 3, "time": 1763791234.1}   a metric
//   {"params": {"lr": 0.01, "optimizer": "sgd"}}                         logged params
// "NaN", "Infinity" and "-Infinity" stand for the non-finite values JSON lacks. A line
// that is not one of these is counted and skipped, never fatal: a script's bug must not
// fail the step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/store/run_store.h"

namespace amlflow::runtime {

struct MetricsBatch {
    std::vector<MetricRecord> metrics;  // run_id, step and attempt filled in
    std::map<int, std::vector<std::pair<std::string, std::string>>> params;  // rank -> name, JSON value
    int bad_lines = 0;
};

class MetricsReader {
public:
    MetricsReader(std::string run_id, std::string step, int attempt, std::filesystem::path folder);

    // What was appended since the last call. `final`: the ranks have exited, so a last
    // line without its newline counts too.
    MetricsBatch read(bool final = false);

    const std::filesystem::path& folder() const { return folder_; }

private:
    void parse_line(const std::string& line, int rank, MetricsBatch& batch) const;

    std::string run_id_, step_;
    int attempt_;
    std::filesystem::path folder_;
    std::map<std::string, uint64_t> offsets_;  // file name -> bytes consumed
};

}  // namespace amlflow::runtime
