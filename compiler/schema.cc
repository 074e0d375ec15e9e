#include "compiler/schema.h"

namespace amlflow::compiler {

const FieldSpec* BlockSpec::find(std::string_view field) const {
    for (const FieldSpec& spec : fields) {
        if (spec.name == field) return &spec;
    }
    return nullptr;
}

namespace schema {

using T = FieldType;

const BlockSpec& workspace() {
    static const BlockSpec spec{
        "workspace",
        "An Azure Machine Learning workspace: where `amlcompute` jobs run. Give either "
        "`config` (a config.json as the Azure portal downloads it) or the three names.",
        {
            {"config", T::Path, false, "", "a config.json with subscription_id, resource_group and workspace_name"},
            {"subscription", T::String, false, "", "the Azure subscription id"},
            {"resource_group", T::String, false, "", "the resource group holding the workspace"},
            {"name", T::String, false, "", "the workspace name"},
            {"location", T::String, false, "", "the Azure region, for messages and new resources"},
        }};
    return spec;
}

const BlockSpec& environment() {
    static const BlockSpec spec{
        "environment",
        "The software a job runs with: a local interpreter here, a docker image and conda "
        "or pip packages on Azure ML. `environment b from a { ... }` copies `a` and "
        "overrides the fields given.",
        {
            {"python", T::String, false, "\"python3\"", "the interpreter that runs scripts on this machine"},
            {"image", T::String, false, "", "the docker base image used on Azure ML"},
            {"conda", T::Path, false, "", "a conda environment YAML file (channels, dependencies, pip)"},
            {"pip", T::StringList, false, "[]", "pip requirements, e.g. \"torch>=1.13\""},
            {"conda_packages", T::StringList, false, "[]", "conda packages"},
            {"channels", T::StringList, false, "[]", "conda channels"},
            {"python_version", T::String, false, "", "the Python version a conda environment is built with"},
            {"curated", T::String, false, "", "the name of an Azure ML curated environment this stands for"},
            {"variables", T::StringMap, false, "{}", "environment variables set for every process"},
            {"gpu", T::Bool, false, "false", "whether the image carries CUDA"},
            {"description", T::String, false, "", "what the environment is for", {}, {}, {}, false},
        }};
    return spec;
}

const BlockSpec* compute(std::string_view kind) {
    static const BlockSpec local{
        "compute local",
        "This machine. Ranks get slots: GPUs when there are any, else CPU cores.",
        {
            {"gpus", T::Gpus, false, "all", "the GPUs jobs may use: all, none, a count, or device indexes [0, 1]", {}, {}, {}, false},
            {"cpus", T::Int, false, "the machine's cores", "the CPU slots when no GPU is used", {}, 1, {}, false},
        }};
    static const BlockSpec hosts{
        "compute hosts",
        "A list of machines reached through Open MPI (mpirun), each with its slots.",
        {
            {"hosts", T::StringList, true, "", "host names or addresses in rank order, each optionally with slots: \"node1:4\"", {}, {}, {}, false},
            {"slots", T::Int, false, "1", "slots per host where a host names none", {}, 1, {}, false},
            {"ssh_port", T::Int, false, "22", "the ssh port mpirun uses", {}, 1, 65535, false},
            {"user", T::String, false, "ssh's own config", "the user ssh logs in as on every host", {}, {}, {}, false},
            {"identity_file", T::String, false, "ssh's own config", "the private key ssh uses, a path on this machine (~ is expanded)", {}, {}, {}, false},
            {"ssh_config", T::String, false, "ssh's own config", "an ssh config file on this machine, passed to ssh as -F (~ is expanded)", {}, {}, {}, false},
            {"interface", T::String, false, "the libraries' own choice", "the network ranks talk on: a NIC name (\"eth0\") or an IPv4 CIDR (\"10.0.0.0/24\")", {}, {}, {}, false},
            {"workdir", T::String, false, "the run store's folder", "an absolute folder on each host where ranks run and leave files", {}, {}, {}, false},
            {"shared_fs", T::Bool, false, "true", "whether the hosts see this machine's run store; false: inputs and outputs are copied over ssh", {}, {}, {}, false},
            {"python", T::String, false, "the environment's", "the interpreter on the hosts, in place of the environment's `python`", {}, {}, {}, false},
            {"gpus", T::Gpus, false, "all", "the GPUs jobs may use on each host: all, none, a count, or device indexes [0, 1]", {}, {}, {}, false},
        }};
    static const BlockSpec amlcompute{
        "compute amlcompute",
        "An Azure ML compute cluster, created if missing, scaled between min and max nodes.",
        {
            {"vm_size", T::String, true, "", "the VM size, e.g. \"STANDARD_NC6\"", {}, {}, {}, false},
            {"min_nodes", T::Int, false, "0", "nodes kept running when idle", {}, 0, {}, false},
            {"max_nodes", T::Int, false, "1", "the most nodes the cluster scales to", {}, 1, {}, false},
            {"idle_time", T::Duration, false, "30m", "idle time before scaling down", {}, {}, {}, false},
            {"priority", T::Enum, false, "dedicated", "dedicated or low_priority VMs", {"dedicated", "low_priority"}, {}, {}, false},
            {"name", T::String, false, "the declaration's name", "the cluster's name in the workspace", {}, {}, {}, false},
            {"workspace", T::Workspace, false, "the only workspace", "the workspace holding the cluster", {}, {}, {}, false},
        }};
    if (kind == "local") return &local;
    if (kind == "hosts") return &hosts;
    if (kind == "amlcompute") return &amlcompute;
    return nullptr;
}

const BlockSpec* distribution(std::string_view kind) {
    static const BlockSpec pytorch{
        "distribution pytorch",
        "PyTorch DDP, one process per rank, with torchrun's environment variables.",
        {
            {"nodes", T::Int, false, "1", "how many nodes", {}, 1},
            {"processes_per_node", T::Int, false, "1", "ranks on each node", {}, 1},
        }};
    static const BlockSpec per_node{
        "distribution per_node",
        "A launch command run once per node (torch.distributed.launch style); the command "
        "sees $NODE_RANK, $NODES, $MASTER_ADDR, $MASTER_PORT and $WORLD_SIZE.",
        {
            {"nodes", T::Int, false, "1", "how many nodes", {}, 1},
            {"processes_per_node", T::Int, false, "1", "ranks the command starts on each node", {}, 1},
        }};
    static const BlockSpec mpi{
        "distribution mpi",
        "MPI (Horovod style), launched with mpirun.",
        {
            {"nodes", T::Int, false, "1", "how many nodes", {}, 1},
            {"processes_per_node", T::Int, false, "1", "ranks on each node", {}, 1},
        }};
    if (kind == "pytorch") return &pytorch;
    if (kind == "per_node") return &per_node;
    if (kind == "mpi") return &mpi;
    return nullptr;
}

const BlockSpec* early_stop(std::string_view kind) {
    static const BlockSpec bandit{
        "early_stop bandit",
        "Stops a trial whose metric falls outside `slack` of the best trial so far.",
        {
            {"slack", T::Float, true, "", "allowed ratio from the best, e.g. 0.1", {}, 0},
            {"interval", T::Int, false, "1", "how often (in reported steps) the policy runs", {}, 1},
            {"delay", T::Int, false, "0", "reported steps before the first evaluation", {}, 0},
        }};
    static const BlockSpec median{
        "early_stop median",
        "Stops a trial whose best metric is worse than the median of running averages.",
        {
            {"interval", T::Int, false, "1", "how often (in reported steps) the policy runs", {}, 1},
            {"delay", T::Int, false, "0", "reported steps before the first evaluation", {}, 0},
        }};
    static const BlockSpec truncation{
        "early_stop truncation",
        "Stops the worst `percent` of trials at each evaluation.",
        {
            {"percent", T::Int, true, "", "the percentage of trials stopped", {}, 1, 99},
            {"interval", T::Int, false, "1", "how often (in reported steps) the policy runs", {}, 1},
            {"delay", T::Int, false, "0", "reported steps before the first evaluation", {}, 0},
        }};
    if (kind == "bandit") return &bandit;
    if (kind == "median") return &median;
    if (kind == "truncation") return &truncation;
    return nullptr;
}

const BlockSpec& retry() {
    static const BlockSpec spec{
        "retry",
        "Which failures use the restart budget. With no `on_*` field every failure does; "
        "a `never_*` match is never retried.",
        {
            {"on_exit", T::IntList, false, "", "exit codes that are retried", {}, {}, {}, false},
            {"on_signal", T::StringList, false, "", "signals that are retried, e.g. \"SIGKILL\"", {}, {}, {}, false},
            {"on_log", T::StringList, false, "", "log text that makes a failure retried", {}, {}, {}, false},
            {"never_on_exit", T::IntList, false, "", "exit codes never retried", {}, {}, {}, false},
            {"never_on_log", T::StringList, false, "", "log text that makes a failure final, e.g. \"CUDA out of memory\"", {}, {}, {}, false},
        }};
    return spec;
}

const BlockSpec& job() {
    static const BlockSpec spec{
        "job",
        "A training job: a script or command run in an environment on a compute, "
        "possibly over many processes and nodes.",
        {
            {"source", T::Path, false, "\".\"", "the folder snapshotted as the working directory"},
            {"script", T::Path, false, "", "the Python script, relative to `source` (or give `command`)"},
            {"source_include", T::StringList, false, "every file", "glob patterns, relative to `source`: only the files they match are in the snapshot and its hash", {}, {}, {}, false},
            {"command", T::Command, false, "", "a command to run instead of a script: a string (run by a shell) or a list (argv)"},
            {"args", T::Arguments, false, "[]", "arguments passed to the script"},
            {"environment", T::Environment, false, "python3 on this machine", "the environment it runs in"},
            {"compute", T::Compute, false, "this machine", "where it runs", {}, {}, {}, false},
            {"distribution", T::Distribution, false, "none", "how ranks are laid out: none, pytorch, per_node or mpi"},
            {"restarts", T::Int, false, "0", "whole-group restarts allowed after a rank fails", {}, 0, {}, false},
            {"backoff", T::Duration, false, "1s", "wait before a restart, doubled each time", {}, {}, {}, false},
            {"timeout", T::Duration, false, "", "the longest an attempt may run", {}, {}, {}, false},
            {"hang_timeout", T::Duration, false, "", "a rank silent for this long is hung", {}, {}, {}, false},
            {"retry", T::Block, false, "", "which failures are retried", {}, {}, {}, false, &retry()},
            {"metrics", T::StringList, false, "", "the metrics the script reports"},
            {"variables", T::StringMap, false, "{}", "environment variables for every rank"},
            {"inputs", T::PathMap, false, "{}", "named input paths, e.g. other steps' outputs"},
            {"after", T::StepList, false, "[]", "steps that must finish first", {}, {}, {}, false},
            {"tags", T::StringMap, false, "{}", "labels kept with the run", {}, {}, {}, false},
            {"description", T::String, false, "", "what the job does", {}, {}, {}, false},
        }};
    return spec;
}

const BlockSpec& sweep() {
    static const BlockSpec spec{
        "sweep",
        "Hyperparameter tuning over a job template: trials bind the template's parameters "
        "to values drawn from the search space.",
        {
            {"space", T::SearchSpace, true, "", "a search-space function for each swept parameter"},
            {"sampling", T::Enum, false, "random", "how trials are drawn", {"random", "grid", "bayesian"}},
            {"objective", T::Objective, true, "", "maximize(\"metric\") or minimize(\"metric\")"},
            {"trials", T::Int, false, "10 (grid: every combination)", "how many trials", {}, 1},
            {"parallel", T::Int, false, "1", "trials run at once", {}, 1, {}, false},
            {"early_stop", T::EarlyStop, false, "none", "a policy that stops poor trials early", {}, {}, {}, false},
            {"timeout", T::Duration, false, "", "the longest the whole sweep may run", {}, {}, {}, false},
            {"after", T::StepList, false, "[]", "steps that must finish first", {}, {}, {}, false},
        }};
    return spec;
}

const BlockSpec& register_model() {
    static const BlockSpec spec{
        "register model",
        "Registers a file or folder as a new version of a named model, with lineage.",
        {
            {"path", T::Path, true, "", "the model file or folder, usually a step's outputs"},
            {"name", T::String, false, "the step's name", "the model's name in the registry"},
            {"description", T::String, false, "", "what the model is", {}, {}, {}, false},
            {"tags", T::StringMap, false, "{}", "labels kept with the version", {}, {}, {}, false},
            {"after", T::StepList, false, "[]", "steps that must finish first", {}, {}, {}, false},
        }};
    return spec;
}

const BlockSpec& export_onnx() {
    static const BlockSpec spec{
        "export onnx",
        "Converts a PyTorch model to ONNX and checks it with the ONNX checker.",
        {
            {"model", T::Path, true, "", "the model: TorchScript, a pickled module, or a state dict with `factory`"},
            {"input_shape", T::IntList, true, "", "the shape of the example input, e.g. [1, 3, 224, 224]"},
            {"opset", T::Int, false, "13", "the ONNX opset version", {}, 7, 17},
            {"factory", T::String, false, "", "\"module:function\" building the model for a state dict"},
            {"dynamic_axes", T::Map, false, "{}", "axes of variable size, e.g. { input = [0] }"},
            {"input_names", T::StringList, false, "[\"input\"]", "names of the graph's inputs"},
            {"output_names", T::StringList, false, "[\"output\"]", "names of the graph's outputs"},
            {"environment", T::Environment, false, "python3 on this machine", "the environment the exporter runs in"},
            {"after", T::StepList, false, "[]", "steps that must finish first", {}, {}, {}, false},
        }};
    return spec;
}

const BlockSpec& download() {
    static const BlockSpec spec{
        "download",
        "Copies step outputs (or a part of them) into a local folder.",
        {
            {"path", T::Path, true, "", "what to copy, usually a step's outputs or a file in them"},
            {"to", T::Path, true, "", "the local folder, relative to the file"},
            {"overwrite", T::Bool, false, "false", "replace files that are already there", {}, {}, {}, false},
            {"after", T::StepList, false, "[]", "steps that must finish first", {}, {}, {}, false},
        }};
    return spec;
}

std::vector<std::string_view> compute_kinds() { return {"local", "hosts", "amlcompute"}; }
std::vector<std::string_view> distribution_kinds() { return {"none", "pytorch", "per_node", "mpi"}; }
std::vector<std::string_view> early_stop_kinds() { return {"none", "bandit", "median", "truncation"}; }
std::vector<std::string_view> type_names() {
    return {"int", "float", "bool", "string", "duration", "size", "path", "list"};
}

std::vector<const BlockSpec*> all_blocks() {
    return {&workspace(), &environment(), compute("local"), compute("hosts"), compute("amlcompute"),
            &job(), distribution("pytorch"), distribution("per_node"), distribution("mpi"), &retry(),
            &sweep(), early_stop("bandit"), early_stop("median"), early_stop("truncation"),
            &register_model(), &export_onnx(), &download()};
}

std::string_view describe(FieldType type) {
    switch (type) {
        case T::Any: return "a value";
        case T::Bool: return "a bool";
        case T::Int: return "an int";
        case T::Float: return "a number";
        case T::String: return "a string";
        case T::Duration: return "a duration such as 30s or 2h";
        case T::Size: return "a size such as 16GB";
        case T::Path: return "a path";
        case T::StringList: return "a list of strings";
        case T::IntList: return "a list of ints";
        case T::List: return "a list";
        case T::StringMap: return "a map of strings";
        case T::PathMap: return "a map of paths";
        case T::Map: return "a map";
        case T::Command: return "a string or a list of strings";
        case T::Arguments: return "a list of arguments (strings, numbers, paths, step results)";
        case T::Environment: return "an environment";
        case T::Compute: return "a compute";
        case T::Workspace: return "a workspace";
        case T::StepList: return "a list of steps";
        case T::Distribution: return "a distribution (none, pytorch, per_node or mpi)";
        case T::EarlyStop: return "an early-stop policy (none, bandit, median or truncation)";
        case T::Objective: return "maximize(\"metric\") or minimize(\"metric\")";
        case T::Enum: return "one of the listed words";
        case T::Gpus: return "all, none, a GPU count or a list of GPU indexes";
        case T::Block: return "a block";
        case T::SearchSpace: return "a search space";
    }
    return "a value";
}

}  // namespace schema

}  // namespace amlflow::compiler
