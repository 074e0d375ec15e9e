// `amlflow report RUN [-o FILE]`: one self-contained HTML page about a run (its plan,
// timeline, metric charts and failure reports), written from the run store.
#include <iostream>

#include "cli/commands.h"
#include "cli/store_option.h"
#include "runtime/report/report_html.h"

namespace amlflow::cli {

using namespace amlflow::runtime;

namespace {

struct ReportArgs {
    StoreOption where;
    std::string id, output;
};

int write_report(const ReportArgs& args) {
    auto store = args.where.open();
    if (!store) return 1;
    std::string error;
    auto data = gather_report(*store, args.id, &error);
    if (!data) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    std::string path = args.output.empty() ? "report-" + data->run.id + ".html" : args.output;
    if (!write_report_html(*data, path, &error)) {
        std::cerr << "amlflow: error: " << error << "\n";
        return 1;
    }
    std::cout << path << "\n";
    return 0;
}

}  // namespace

Runner add_report_command(CLI::App& app) {
    auto args = std::make_shared<ReportArgs>();
    CLI::App* command = app.add_subcommand("report", "Write a run's report as one self-contained HTML file");
    command->add_option("run", args->id, "The run id, or a unique prefix of it")->required();
    command->add_option("-o,--output", args->output, "The HTML file to write (default: report-RUN.html)");
    args->where.add_to(command);
    return [args]() { return write_report(*args); };
}

}  // namespace amlflow::cli
