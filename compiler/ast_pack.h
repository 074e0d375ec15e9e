// A step's block and binding arguments packed into bytes, and back. A plan of a large
// file needs each step's tree only while that step is checked (compile_file drops it
// then), yet a whole-file parse would hold every tree at once, about 15 times the text;
// packed, the parse holds about the text's size, and the checker unpacks one step at a
// time. Unpacking gives back the very tree that was packed: every node, literal and range.
#pragma once

#include "compiler/ast.h"

namespace amlflow::compiler::ast {

// Moves the step's block and bind_args into step.packed. False (the step left as it was)
// when some range in them points into another file than `file`, which a parse never does.
bool pack_step_body(Step& step, const SourceFile& file);

// Rebuilds the block and bind_args of a packed step (nothing to do when it is not packed),
// their ranges pointing into `file`, and empties step.packed.
void unpack_step_body(Step& step, const SourceFile& file);

}  // namespace amlflow::compiler::ast
