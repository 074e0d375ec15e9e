// The stdlib files (stdlib/**.amlflow, stdlib/**.py, stdlib/**.json) compiled into the binary by
// stdlib/embed_stdlib.cmake. `import "std/curated"` reads `std/curated.amlflow` here.
#pragma once

#include <string_view>
#include <vector>

namespace amlflow::compiler {

struct EmbeddedFile {
    std::string_view path;     // relative to stdlib/, e.g. "std/curated.amlflow"
    std::string_view content;
};

const std::vector<EmbeddedFile>& embedded_stdlib_files();

}  // namespace amlflow::compiler
