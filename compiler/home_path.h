// "~" in a local path means the user's home folder, as a shell would read it: a file that
// says identity_file = "~/.ssh/id_ed25519" or source = "~/project" means that. Only "~" and
// "~/..." are read so ("~bob" is left alone); the home is $HOME, then the password database.
#pragma once

#include <string>

namespace amlflow::compiler {

// The path with a leading "~" replaced by the home folder; other paths unchanged.
std::string expand_home(const std::string& path);

}  // namespace amlflow::compiler
