// The URI an editor can open for any source the compiler loaded: the document itself,
// a relative import (a file on disk), or a stdlib module.
//
// Stdlib modules are embedded in the binary and have no file of their own. Rather than a
// private URI scheme (which each editor would need a plugin to open), the server writes
// them once into a cache folder and answers `file://` URIs there:
// `$XDG_CACHE_HOME/amlflow/stdlib-<version>/std/curated.amlflow` (or `~/.cache/...`,
// else the temporary folder). The copy is rewritten whenever its content differs, so it
// always matches the binary that answers.
#pragma once

#include <string>

#include "compiler/source.h"

namespace amlflow::lsp {

struct Document;

// The URI of `file`; `document` is the open document whose compile loaded it.
std::string uri_of_source(const compiler::SourceFile& file, const Document& document);

// The cache copy of the stdlib module displayed as `display` ("<std>/curated.amlflow");
// empty when it can't be written.
std::string stdlib_cache_path(const std::string& display);

}  // namespace amlflow::lsp
