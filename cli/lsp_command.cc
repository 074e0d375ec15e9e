// `amlflow lsp`: the language server, speaking the Language Server Protocol on stdin and
// stdout (editor/lsp/). Editors start it as a subprocess; see docs/editor.md.
#include <signal.h>
#include <unistd.h>

#include "cli/commands.h"
#include "editor/lsp/server.h"

namespace amlflow::cli {

Runner add_lsp_command(CLI::App& app) {
    CLI::App* command = app.add_subcommand("lsp", "Run the language server (LSP over stdin/stdout) for editors");
    // Editors pass `--stdio` to servers by convention; it is the only transport anyway.
    command->add_flag("--stdio", "Talk over stdin and stdout (the default and only transport)");
    return []() {
        // A client that closes its end must not kill the server mid-write: the write fails
        // and the server ends when its input does.
        ::signal(SIGPIPE, SIG_IGN);
        return lsp::run_server(STDIN_FILENO, STDOUT_FILENO);
    };
}

}  // namespace amlflow::cli
