#include "compiler/ast.h"

namespace amlflow::compiler::ast {

const char* step_kind_name(StepKind kind) {
    switch (kind) {
        case StepKind::Job: return "job";
        case StepKind::Sweep: return "sweep";
        case StepKind::Register: return "register model";
        case StepKind::Export: return "export onnx";
        case StepKind::Download: return "download";
    }
    return "step";
}

const char* decl_kind_name(DeclKind kind) {
    switch (kind) {
        case DeclKind::Import: return "import";
        case DeclKind::Param: return "param";
        case DeclKind::Let: return "let";
        case DeclKind::Workspace: return "workspace";
        case DeclKind::Environment: return "environment";
        case DeclKind::Compute: return "compute";
        case DeclKind::Experiment: return "experiment";
    }
    return "declaration";
}

}  // namespace amlflow::compiler::ast
