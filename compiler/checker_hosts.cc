// A hosts compute's own fields: its host entries (slots, duplicates), `workdir`,
// `shared_fs` and `interface`, checked where the runtime would refuse them, so a file
// that checks does not fail later on a host.
#include <cctype>

#include "compiler/checker.h"

namespace amlflow::compiler {

namespace {

struct Problem {
    std::string message;  // empty: no problem
    std::string help;
};

// "10.0.0.0" -> true; four decimal numbers 0 to 255.
bool ipv4_address(const std::string& text) {
    int parts = 0;
    size_t at = 0;
    while (at <= text.size()) {
        size_t dot = text.find('.', at);
        std::string part = text.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
        if (part.empty() || part.size() > 3) return false;
        for (char c : part) {
            if (!std::isdigit(static_cast<unsigned char>(c))) return false;
        }
        if (std::stoi(part) > 255) return false;
        ++parts;
        if (dot == std::string::npos) break;
        at = dot + 1;
    }
    return parts == 4;
}

bool all_digits(const std::string& text) {
    if (text.empty() || text.size() > 2) return false;
    for (char c : text) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

// A network given as a CIDR ("10.0.0.0/24"), else a NIC's name as Linux allows it.
Problem interface_problem(const std::string& text) {
    const std::string quoted = "interface '" + text + "'";
    const std::string shapes = "write a NIC name such as \"eth0\" or an IPv4 network such as \"10.0.0.0/24\"";
    size_t slash = text.find('/');
    if (slash != std::string::npos) {
        std::string address = text.substr(0, slash);
        std::string prefix = text.substr(slash + 1);
        if (address.find(':') != std::string::npos) {
            return {quoted + " is an IPv6 network; only IPv4 networks are supported", "name the NIC instead, e.g. \"eth0\""};
        }
        if (!ipv4_address(address) || !all_digits(prefix) || std::stoi(prefix) > 32) {
            return {quoted + " is not a valid IPv4 CIDR",
                    "a CIDR is four numbers from 0 to 255, '/', and a prefix length from 0 to 32, e.g. \"10.0.0.0/24\""};
        }
        return {};
    }
    if (text.empty()) return {"interface is empty", shapes};
    if (ipv4_address(text)) {
        return {quoted + " is an address, not a network", "give the network with its prefix length, e.g. \"" + text +
                                                                "/24\", or the NIC's name"};
    }
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) return {quoted + " has a space; a NIC name has none", shapes};
    }
    if (text.size() > 15) {
        return {quoted + " is longer than a NIC name can be (15 characters)", shapes};
    }
    return {};
}

}  // namespace

void Checker::check_hosts_compute(const Symbol& symbol, const Value& fields, const std::string& owner) {
    const ast::Block* block = symbol.decl->block.get();
    auto at = [&](const char* name) {
        const ast::Member* member = find_member(block, name);
        return member && member->value ? member->value->range : symbol.decl->name.range;
    };
    check_host_entries(symbol, fields, owner);
    const Value* workdir = fields.field("workdir");
    if (workdir && workdir->kind == ValueKind::String && (workdir->text.empty() || workdir->text.front() != '/')) {
        Diagnostic& d = diagnostics_.error("invalid-value", at("workdir"),
                                           owner + " has workdir '" + workdir->text + "', which is not an absolute path");
        if (!workdir->text.empty() && workdir->text.front() == '~') {
            d.help("'~' is not expanded on the hosts; write the whole path, e.g. \"/home/alice/amlflow\"");
        } else {
            d.help("write an absolute path that exists on every host, e.g. \"/scratch/amlflow\"");
        }
    }
    const Value* shared = fields.field("shared_fs");
    if (shared && shared->kind == ValueKind::Bool && !shared->boolean && !find_member(block, "workdir")) {
        diagnostics_.error("missing-field", symbol.decl->name.range,
                           owner + " sets 'shared_fs = false' but gives no 'workdir'")
            .note("the hosts share no folder with this machine", at("shared_fs"))
            .help("add 'workdir = \"/scratch/amlflow\"': the folder on each host that the snapshot and inputs are "
                  "copied into");
    }
    const Value* interface = fields.field("interface");
    if (interface && interface->kind == ValueKind::String) {
        Problem problem = interface_problem(interface->text);
        if (!problem.message.empty()) {
            diagnostics_.error("invalid-value", at("interface"), problem.message).help(problem.help);
        }
    }
}

// Each entry read as the runtime reads it; a wrong one is reported at its own string.
// The entries are kept (with where each one's slots are said) for the capacity check,
// unless one is wrong: then capacity is not checked against a list that is not right.
void Checker::check_host_entries(const Symbol& symbol, const Value& fields, const std::string& owner) {
    const ast::Block* block = symbol.decl->block.get();
    const Value* hosts = fields.field("hosts");
    if (!hosts || hosts->kind != ValueKind::List) return;
    const ast::Member* member = find_member(block, "hosts");
    const ast::Expr* list = member ? member->value.get() : nullptr;
    if (hosts->items.empty()) {
        SourceRange where = list ? list->range : symbol.decl->name.range;
        diagnostics_.error("out-of-range", where, owner + " needs at least one host");
        return;
    }
    bool literal = list && list->kind == ast::ExprKind::List && list->items.size() == hosts->items.size();
    const ast::Member* slots_member = find_member(block, "slots");
    const Value* slots = fields.field("slots");
    int64_t fallback = slots && slots->kind == ValueKind::Int ? slots->number : 1;
    std::vector<PlacedHost> placed;
    bool all_right = true;
    for (size_t i = 0; i < hosts->items.size(); ++i) {
        const Value& item = hosts->items[i];
        if (item.kind != ValueKind::String) {
            all_right = false;  // deferred or wrong: reported by the field's type check
            continue;
        }
        SourceRange where = literal ? list->items[i]->range : (list ? list->range : symbol.decl->name.range);
        PlacedHost host;
        HostEntryProblem problem = parse_host_entry(item.text, fallback, host.entry);
        if (!problem.message.empty()) {
            diagnostics_.error("invalid-value", where, problem.message).help(problem.help);
            all_right = false;
            continue;
        }
        host.range = where;
        host.index = i;
        bool slots_said = slots_member && slots_member->value && !host.entry.own_slots;
        host.slots_from = slots_said ? slots_member->value->range : where;
        for (const PlacedHost& earlier : placed) {
            if (!same_host(earlier.entry.name, host.entry.name)) continue;
            Diagnostic& d =
                diagnostics_.error("duplicate", where, "host '" + host.entry.name + "' is listed twice in " + owner);
            if (literal) d.note("first listed here", earlier.range);
            else d.note("as '" + hosts->items[earlier.index].text + "' and as '" + item.text + "'");
            d.help("list each host once, with all the slots it offers: \"" + earlier.entry.name + ":N\"");
            all_right = false;
            break;
        }
        placed.push_back(host);
    }
    if (all_right) host_lists_[symbol.id] = std::move(placed);
}

}  // namespace amlflow::compiler
