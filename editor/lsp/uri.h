// `file://` URIs to paths and back, percent-encoding included. The compiler names files
// by path (imports resolve against the file's folder); the protocol names them by URI.
#pragma once

#include <string>

namespace amlflow::lsp {

// The path of a `file://` URI. Another scheme (an editor's unsaved `untitled:` buffer)
// gets a path in the current folder named after the URI, so diagnostics still work and
// relative imports resolve from where the server started.
std::string uri_to_path(const std::string& uri);

// A `file://` URI for an absolute or relative path (made absolute first).
std::string path_to_uri(const std::string& path);

}  // namespace amlflow::lsp
