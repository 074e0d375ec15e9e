// `amlflow report`: one self-contained HTML page about one run. The page has no external
// reference at all (styles, script and data are inline), so it opens from a file:// URL
// on a machine with no network, can be mailed, and can be kept beside the run.
//
// Sections: the run's header (id, file, state, exit code, times, params and --set, which
// steps came from the cache), its steps with what each produced, each sweep's trials,
// the plan graph and the timeline (SVG written here), a chart per step and metric, or per
// sweep and metric (SVG drawn by the page's script from the embedded data), every failed
// attempt's report, and the models the run registered.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/report/html_text.h"
#include "runtime/report/report_data.h"

namespace amlflow::runtime {

std::string render_report_html(const ReportData& data);

// Writes the page to `path` (through a temporary file beside it, renamed over it);
// false with *error when it cannot.
bool write_report_html(const ReportData& data, const std::filesystem::path& path, std::string* error);

// The page's fixed parts, in report_page.cc.
const char* report_stylesheet();
const char* report_script();

}  // namespace amlflow::runtime
