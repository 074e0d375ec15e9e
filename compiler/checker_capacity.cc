// What a job asks of its compute: a distribution the compute must hold (its nodes,
// slots, GPUs or CPU cores) and a compute kind this build can run at all.
#include <algorithm>

#include "compiler/checker.h"

namespace amlflow::compiler {

namespace {

int64_t int_field(const Value& fields, const char* name, int64_t fallback) {
    const Value* v = fields.field(name);
    return v && v->kind == ValueKind::Int ? v->number : fallback;
}

std::string plural(int64_t n, const char* word) {
    std::string w = word;
    if (n != 1) w += w.back() == 's' ? "es" : "s";
    return std::to_string(n) + " " + w;
}

// Whether an expression reads one of `names` (a template's parameters).
bool mentions(const ast::Expr* expr, const std::set<std::string>& names) {
    if (expr == nullptr) return false;
    if (expr->kind == ast::ExprKind::Name && names.count(expr->name.name)) return true;
    if (mentions(expr->object.get(), names) || mentions(expr->rhs.get(), names)) return true;
    for (const ast::ExprPtr& item : expr->items) {
        if (mentions(item.get(), names)) return true;
    }
    for (const ast::Arg& arg : expr->args) {
        if (mentions(arg.value.get(), names)) return true;
    }
    for (const ast::StringPart& part : expr->parts) {
        if (mentions(part.expr.get(), names)) return true;
    }
    if (expr->block) {
        for (const ast::Member& member : expr->block->members) {
            if (mentions(member.value.get(), names)) return true;
        }
    }
    return false;
}

SourceRange value_range(const ast::Member& member) {
    return member.value ? member.value->range : member.key.range;
}

}  // namespace

// Who a capacity diagnostic belongs to, and where it points. A binding or a sweep
// evaluates its template's body again: a shape that is the template's own is reported
// once, on the template, not again under every step that binds it.
bool Checker::capacity_site(const ast::Step& step, const ast::Step* bound_by, SourceRange& where) {
    const ast::Member* distribution = find_member(step.block.get(), "distribution");
    where = distribution ? value_range(*distribution) : step.name.range;
    if (bound_by == nullptr) return true;
    if (bound_by->kind == ast::StepKind::Sweep) return false;  // trials run the template's shape
    const ast::Member* own_distribution = find_member(bound_by->block.get(), "distribution");
    const ast::Member* own_compute = find_member(bound_by->block.get(), "compute");
    std::set<std::string> params;
    for (const ast::JobParam& param : step.params) params.insert(param.name.name);
    const ast::Member* compute = find_member(step.block.get(), "compute");
    bool from_params = (distribution && mentions(distribution->value.get(), params)) ||
                       (compute && mentions(compute->value.get(), params));
    if (!own_distribution && !own_compute && !from_params) return false;
    if (own_distribution) where = value_range(*own_distribution);
    else if (own_compute) where = value_range(*own_compute);
    return true;
}

void Checker::check_capacity(const ast::Step& step, const CheckedStep& job, const ast::Step* bound_by) {
    const Value* distribution = job.fields.field("distribution");
    if (!distribution || distribution->kind != ValueKind::Object) return;
    auto found = computes_.find(job.compute_id);
    if (found == computes_.end()) return;
    SourceRange where;
    if (!capacity_site(step, bound_by, where)) return;
    const CheckedDecl& compute = found->second;
    int64_t nodes = int_field(*distribution, "nodes", 1);
    int64_t per_node = int_field(*distribution, "processes_per_node", 1);
    std::string owner = "job '" + job.name + "'";
    std::string target = "compute '" + compute.name + "'";
    auto report = [&](const std::string& message, const std::string& detail) {
        note_override(diagnostics_.error("capacity", where, message).note(target + " " + detail, compute.range));
    };
    if (compute.subkind == "amlcompute") {
        int64_t max_nodes = int_field(compute.fields, "max_nodes", 1);
        if (nodes > max_nodes) {
            report(owner + " asks for " + plural(nodes, "node") + " but " + target + " scales to at most " +
                       std::to_string(max_nodes),
                   "is declared here; raise its max_nodes or lower the job's nodes");
        }
    } else if (compute.subkind == "hosts") {
        check_hosts_capacity(compute, owner, nodes, per_node, where);
    } else if (compute.subkind == "local") {
        check_local_capacity(compute, owner, per_node, where);
    }
}

// On hosts, ranks fill the listed hosts in order, `processes_per_node` on each of the
// first `nodes` (for every distribution: an mpi or pytorch rank, or a per-node launcher
// and the ranks it starts), so each of those hosts must hold that many: its own ":N",
// else `slots`. A GPU count caps every host alike; each rank takes one GPU.
void Checker::check_hosts_capacity(const CheckedDecl& compute, const std::string& owner, int64_t nodes,
                                   int64_t per_node, SourceRange where) {
    auto found = host_lists_.find(compute.id);
    if (found == host_lists_.end()) return;  // a wrong entry, reported on the compute
    const std::vector<PlacedHost>& hosts = found->second;
    std::string target = "compute '" + compute.name + "'";
    int64_t count = static_cast<int64_t>(hosts.size());
    if (nodes > count) {
        note_override(diagnostics_.error("capacity", where, owner + " asks for " + plural(nodes, "node") + " but " + target +
                                                                " lists " + plural(count, "host"))
                          .note(target + " is declared here", compute.range));
        return;
    }
    std::vector<const PlacedHost*> short_hosts;
    for (int64_t i = 0; i < nodes; ++i) {
        const PlacedHost& host = hosts[static_cast<size_t>(i)];
        if (per_node > host.entry.slots) short_hosts.push_back(&host);
    }
    if (!short_hosts.empty()) {
        const PlacedHost& first = *short_hosts[0];
        std::string name = "host '" + first.entry.name + "'";
        std::string said = first.entry.own_slots ? name + " is listed here with " + plural(first.entry.slots, "slot")
                           : first.slots_from.begin != first.range.begin
                               ? name + " names no slots, so it has the compute's 'slots'"
                               : name + " names no slots, and 'slots' is 1 by default";
        Diagnostic& d = diagnostics_.error("capacity", where,
                                           owner + " runs " + plural(per_node, "process") + " per node but " + name +
                                               " of " + target + " has " + plural(first.entry.slots, "slot"));
        d.note(said, first.slots_from);
        for (size_t i = 1; i < short_hosts.size(); ++i) {
            const HostEntry& entry = short_hosts[i]->entry;
            d.note("host '" + entry.name + "' is short too, with " + plural(entry.slots, "slot"), short_hosts[i]->range);
        }
        note_override(d);
        d.help("lower processes_per_node, or list the host with more slots: \"" + first.entry.name + ":" +
               std::to_string(per_node) + "\"");
    }
    const Value* gpus = compute.fields.field("gpus");
    int64_t gpu_count = -1;
    if (gpus && gpus->kind == ValueKind::Int) gpu_count = gpus->number;
    if (gpus && gpus->kind == ValueKind::List) gpu_count = static_cast<int64_t>(gpus->items.size());
    if (gpu_count > 0 && per_node > gpu_count) {
        note_override(diagnostics_.error("capacity", where, owner + " runs " + plural(per_node, "process") + " per node but " +
                                                                target + " gives each host " + plural(gpu_count, "GPU"))
                          .note(target + " is declared here; each rank takes one GPU", compute.range));
    }
}

// A local compute holds what it declares (`gpus` as a count or indexes, else `cpus`);
// what it leaves to this machine is checked against the machine, as a warning: the same
// file is right on a larger machine, and ranks beyond the cores still run, sharing them.
void Checker::check_local_capacity(const CheckedDecl& compute, const std::string& owner, int64_t per_node,
                                   SourceRange where) {
    std::string target = "compute '" + compute.name + "'";
    const Value* gpus = compute.fields.field("gpus");
    int64_t count = -1;
    if (gpus && gpus->kind == ValueKind::Int) count = gpus->number;
    if (gpus && gpus->kind == ValueKind::List) count = static_cast<int64_t>(gpus->items.size());
    bool all_gpus = !gpus || (gpus->kind == ValueKind::Enum && gpus->text == "all");
    int64_t cpus = int_field(compute.fields, "cpus", -1);
    if (count > 0 && per_node > count) {
        note_override(diagnostics_.error("capacity", where, owner + " runs " + plural(per_node, "process") + " per node but " +
                                                                target + " has " + plural(count, "GPU"))
                          .note(target + " is declared here; each rank takes one GPU", compute.range));
        return;
    }
    if (count <= 0 && cpus > 0) {
        if (per_node > cpus) {
            note_override(diagnostics_.error("capacity", where, owner + " runs " + plural(per_node, "process") +
                                                                    " per node but " + target + " has " + plural(cpus, "CPU slot"))
                              .note(target + " is declared here", compute.range));
        }
        return;
    }
    if (count > 0 || !options_.machine) return;
    if (!machine_) machine_ = options_.machine();
    bool declared = compute.range.valid();
    std::string placed = declared ? target : "no compute is given, so the job";
    std::string processes = owner + " runs " + plural(per_node, "process") + " per node but this machine has ";
    if (all_gpus && machine_->gpus > 0) {
        if (per_node <= machine_->gpus) return;
        Diagnostic& d = diagnostics_.warning("capacity", where, processes + plural(machine_->gpus, "GPU"));
        d.note(placed + " uses all of this machine's GPUs; each rank takes one", compute.range);
        note_override(d);
        d.help("lower processes_per_node, or run it where there are more GPUs");
        return;
    }
    if (machine_->cpus <= 0 || per_node <= machine_->cpus) return;
    Diagnostic& d = diagnostics_.warning("capacity", where, processes + plural(machine_->cpus, "CPU core"));
    d.note(declared ? target + " does not set 'cpus', so its ranks share this machine's cores"
                    : "no compute is given, so its ranks share this machine's cores",
           compute.range);
    note_override(d);
    d.help(declared ? "lower processes_per_node, or set 'cpus' on " + target + " to make this an error"
                    : "lower processes_per_node");
}

// A sweep on an amlcompute compute runs as one Azure ML sweep job, whose sampling is the
// service's: Bayesian sampling there draws only from choice, uniform and quniform, and its
// q-functions draw floats ("32.0"), which an int parameter's script would not parse. Both
// are errors here rather than the service's 400 or a trial's crash.
void Checker::check_sweep_on_azureml(const ast::Step& sweep, const ast::Step& job, const CheckedStep& out) {
    auto found = computes_.find(out.compute_id);
    if (found == computes_.end() || found->second.subkind != "amlcompute") return;
    const CheckedDecl& compute = found->second;
    const Value* space = out.fields.field("space");
    const ast::Member* space_member = find_member(sweep.block.get(), "space");
    if (!space || !space_member || !space_member->block) return;
    const Value* sampling = out.fields.field("sampling");
    bool bayesian = sampling && sampling->text == "bayesian";
    for (const ast::Member& m : space_member->block->members) {
        const Value* dist = space->field(m.key.name);
        if (!dist || !m.value) continue;
        const ast::JobParam* param = nullptr;
        for (const ast::JobParam& p : job.params) {
            if (p.name.name == m.key.name) param = &p;
        }
        if (bayesian && dist->text != "choice" && dist->text != "uniform" && dist->text != "quniform") {
            diagnostics_.error("search-space", m.value->range,
                               "sweep '" + sweep.name.name + "' runs on '" + compute.name +
                                   "' (amlcompute), where bayesian sampling draws only from choice, uniform and quniform; '" +
                                   m.key.name + "' uses " + dist->text + "()")
                .note("compute '" + compute.name + "' is declared here", compute.range)
                .help("use uniform(...) or quniform(...) over the same range, or sampling = random");
        } else if (param && param->type.name.name == "int" && dist->text != "choice" && dist->text != "randint") {
            diagnostics_.error("search-space", m.value->range,
                               "parameter '" + m.key.name + "' is int but on '" + compute.name + "' (amlcompute) " +
                                   dist->text + "() draws floats such as 32.0")
                .note("compute '" + compute.name + "' is declared here", compute.range)
                .help("use choice(...) or randint(n) for an int parameter");
        }
    }
}

namespace {

// The first `azureml://` text inside a value (lists, maps and interpolations included).
const Value* service_uri(const Value& value) {
    bool text = value.kind == ValueKind::String || value.kind == ValueKind::Path;
    if (text && value.text.rfind("azureml://", 0) == 0) return &value;
    for (const Value& item : value.items) {
        if (const Value* found = service_uri(item)) return found;
    }
    for (const auto& [key, field] : value.fields) {
        if (const Value* found = service_uri(field)) return found;
    }
    return nullptr;
}

}  // namespace

void Checker::check_service_uris(const ast::Step& step, const CheckedStep& job) {
    auto found = computes_.find(job.compute_id);
    if (found == computes_.end()) return;
    const CheckedDecl& compute = found->second;
    if (compute.subkind != "local" && compute.subkind != "hosts") return;
    for (const char* field : {"args", "command", "inputs", "variables"}) {
        const Value* value = job.fields.field(field);
        const Value* uri = value ? service_uri(*value) : nullptr;
        if (!uri) continue;
        const ast::Member* member = find_member(step.block.get(), field);
        SourceRange range = member && member->value ? member->value->range : job.range;
        diagnostics_.error("invalid-value", range,
                           "job '" + job.name + "' runs on '" + compute.name + "' (" + compute.subkind + "), where '" +
                               uri->text + "' cannot be read: 'azureml://' names Azure ML storage")
            .note("compute '" + compute.name + "' is declared here", compute.range)
            .help("run the job on an amlcompute, or give a local path or an https:// url");
        return;
    }
}

}  // namespace amlflow::compiler
