#include "compiler/ast_pack.h"

#include <cstring>

namespace amlflow::compiler::ast {

namespace {

// What an expression holds besides its kind, range and flags: one bit each, so an
// expression pays only for the parts it has (most are literals).
enum ExprParts : uint8_t {
    kParts = 1, kName = 2, kObject = 4, kRhs = 8, kArgs = 16, kItems = 32, kBlock = 64, kNumber = 128,
};

// Unsigned numbers in 7-bit groups; ranges as the distance from the previous range's
// start, zigzagged, which is one or two bytes inside a step.
class Writer {
public:
    Writer(const SourceFile& file, std::string& out) : file_(file), out_(out) {}
    bool ok() const { return ok_; }

    void body(const Step& step) {
        flag(step.block != nullptr);
        if (step.block) block(*step.block);
        count(step.bind_args.size());
        for (const Arg& a : step.bind_args) arg(a);
    }

private:
    void byte(uint8_t value) { out_.push_back(static_cast<char>(value)); }
    void flag(bool value) { byte(value ? 1 : 0); }
    void count(uint64_t value) {
        while (value >= 0x80) {
            byte(static_cast<uint8_t>(value | 0x80));
            value >>= 7;
        }
        byte(static_cast<uint8_t>(value));
    }
    void signed_number(int64_t value) { count((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63)); }
    void text(const std::string& value) {
        count(value.size());
        out_.append(value);
    }
    void range(const SourceRange& r) {
        if (r.file == nullptr) {
            byte(0);
            return;
        }
        if (r.file != &file_) ok_ = false;
        byte(1);
        signed_number(static_cast<int64_t>(r.begin) - last_begin_);
        count(r.end - r.begin);
        last_begin_ = r.begin;
    }
    void ident(const Identifier& id) {
        text(id.name);
        range(id.range);
    }
    void block(const Block& b) {
        range(b.range);
        flag(b.incomplete);
        count(b.members.size());
        for (const Member& m : b.members) {
            ident(m.key);
            range(m.range);
            flag(m.value != nullptr);
            if (m.value) expr(*m.value);
            flag(m.block != nullptr);
            if (m.block) block(*m.block);
        }
    }
    void arg(const Arg& a) {
        flag(a.name.has_value());
        if (a.name) ident(*a.name);
        range(a.range);
        flag(a.value != nullptr);
        if (a.value) expr(*a.value);
    }
    // The number's bits, read through the member the kind says is there.
    static uint64_t number_bits(const Expr& e) {
        uint64_t bits = 0;
        if (e.kind == ExprKind::Float) std::memcpy(&bits, &e.float_value, sizeof bits);
        else bits = static_cast<uint64_t>(e.int_value);
        return bits;
    }
    void expr(const Expr& e) {
        byte(static_cast<uint8_t>(e.kind));
        byte(static_cast<uint8_t>(e.op));
        flag(e.bool_value);
        range(e.range);
        uint8_t parts = (e.parts.empty() ? 0 : kParts) | (e.name.name.empty() && !e.name.range.valid() ? 0 : kName) |
                        (e.object ? kObject : 0) | (e.rhs ? kRhs : 0) | (e.args.empty() ? 0 : kArgs) |
                        (e.items.empty() ? 0 : kItems) | (e.block ? kBlock : 0) | (number_bits(e) != 0 ? kNumber : 0);
        byte(parts);
        if (parts & kNumber) {
            if (e.kind == ExprKind::Float) {
                char bits[sizeof(double)];
                std::memcpy(bits, &e.float_value, sizeof bits);
                out_.append(bits, sizeof bits);
            } else {
                signed_number(e.int_value);
            }
        }
        if (parts & kParts) {
            count(e.parts.size());
            for (const StringPart& p : e.parts) {
                text(p.text);
                range(p.range);
                flag(p.expr != nullptr);
                if (p.expr) expr(*p.expr);
            }
        }
        if (parts & kName) ident(e.name);
        if (parts & kObject) expr(*e.object);
        if (parts & kRhs) expr(*e.rhs);
        if (parts & kArgs) {
            count(e.args.size());
            for (const Arg& a : e.args) arg(a);
        }
        if (parts & kItems) {
            count(e.items.size());
            for (const ExprPtr& item : e.items) expr(*item);
        }
        if (parts & kBlock) block(*e.block);
    }

    const SourceFile& file_;
    std::string& out_;
    int64_t last_begin_ = 0;
    bool ok_ = true;
};

class Reader {
public:
    Reader(const SourceFile& file, const std::string& in) : file_(file), at_(in.data()) {}

    void body(Step& step) {
        if (flag()) step.block = block();
        step.bind_args.resize(count());
        for (Arg& a : step.bind_args) arg(a);
    }

private:
    uint8_t byte() { return static_cast<uint8_t>(*at_++); }
    bool flag() { return byte() != 0; }
    uint64_t count() {
        uint64_t value = 0;
        for (int shift = 0;; shift += 7) {
            uint8_t b = byte();
            value |= static_cast<uint64_t>(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }
    int64_t signed_number() {
        uint64_t value = count();
        return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
    }
    std::string text() {
        size_t size = count();
        std::string value(at_, size);
        at_ += size;
        return value;
    }
    SourceRange range() {
        if (!flag()) return {};
        SourceRange r;
        r.file = &file_;
        last_begin_ += signed_number();
        r.begin = static_cast<uint32_t>(last_begin_);
        r.end = static_cast<uint32_t>(r.begin + count());
        return r;
    }
    void ident(Identifier& id) {
        id.name = text();
        id.range = range();
    }
    BlockPtr block() {
        auto b = std::make_unique<Block>();
        b->range = range();
        b->incomplete = flag();
        size_t members = count();
        b->members.reserve(members);
        for (size_t i = 0; i < members; ++i) {
            Member& m = b->members.emplace_back();
            ident(m.key);
            m.range = range();
            if (flag()) m.value = expr();
            if (flag()) m.block = block();
        }
        return b;
    }
    void arg(Arg& a) {
        if (flag()) ident(a.name.emplace());
        a.range = range();
        if (flag()) a.value = expr();
    }
    ExprPtr expr() {
        auto e = std::make_unique<Expr>();
        e->kind = static_cast<ExprKind>(byte());
        e->op = static_cast<char>(byte());
        e->bool_value = flag();
        e->range = range();
        uint8_t parts = byte();
        if (parts & kNumber) {
            if (e->kind == ExprKind::Float) {
                std::memcpy(&e->float_value, at_, sizeof(double));
                at_ += sizeof(double);
            } else {
                e->int_value = signed_number();
            }
        }
        if (parts & kParts) {
            size_t n = count();
            e->parts.reserve(n);
            for (size_t i = 0; i < n; ++i) {
                StringPart& p = e->parts.emplace_back();
                p.text = text();
                p.range = range();
                if (flag()) p.expr = expr();
            }
        }
        if (parts & kName) ident(e->name);
        if (parts & kObject) e->object = expr();
        if (parts & kRhs) e->rhs = expr();
        if (parts & kArgs) {
            size_t n = count();
            e->args.reserve(n);
            for (size_t i = 0; i < n; ++i) arg(e->args.emplace_back());
        }
        if (parts & kItems) {
            size_t n = count();
            e->items.reserve(n);
            for (size_t i = 0; i < n; ++i) e->items.emplace_back(expr());
        }
        if (parts & kBlock) e->block = block();
        return e;
    }

    const SourceFile& file_;
    const char* at_;
    int64_t last_begin_ = 0;
};

}  // namespace

bool pack_step_body(Step& step, const SourceFile& file) {
    std::string packed;
    Writer writer(file, packed);
    writer.body(step);
    if (!writer.ok()) return false;
    packed.shrink_to_fit();
    step.packed = std::move(packed);
    step.block.reset();
    std::vector<Arg>().swap(step.bind_args);
    return true;
}

void unpack_step_body(Step& step, const SourceFile& file) {
    if (step.packed.empty()) return;
    Reader reader(file, step.packed);
    reader.body(step);
    std::string().swap(step.packed);
}

}  // namespace amlflow::compiler::ast
