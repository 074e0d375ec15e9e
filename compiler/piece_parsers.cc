#include "compiler/piece_parsers.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <sched.h>

#include <BailErrorStrategy.h>
#include <Exceptions.h>
#include <atn/ParserATNSimulator.h>
#include <atn/PredictionMode.h>

#include "AmlflowParser.h"
#include "compiler/ast_builder.h"
#include "compiler/fast_parser.h"
#include "compiler/piece_token_stream.h"

namespace amlflow::compiler {

using grammar::AmlflowParser;

namespace {

// Below this, a file is parsed on the calling thread alone (about 500 steps).
constexpr size_t kThreadedBytes = 256 * 1024;
// Lexing is about a third of the work of parsing, so more workers would mostly wait.
constexpr int kMaxWorkers = 3;
// Pieces waiting; when full, the submitting thread parses one itself.
constexpr size_t kQueueLimit = 128;
// Pieces handed over, and taken by a worker, at a time: one wake-up per batch, not per
// piece (a step is a piece; per piece, the wake-ups cost a sixth of the parse).
constexpr size_t kBatch = 16;
// Parsed pieces a worker may hold, each a tree waiting for its AST to be built.
constexpr int kSlotsPerWorker = 2 * kBatch;

// A parser with SLL prediction that bails out at the first problem, and the tree of the
// piece it parsed last, kept (with its tokens) until the next.
struct Slot {
    Slot() : parser(nullptr) {
        parser.removeErrorListeners();
        parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
            antlr4::atn::PredictionMode::SLL);
        parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    }

    void parse(Piece& parsed, antlr4::CharStream* input) {
        piece = &parsed;
        auto next_tokens = std::make_unique<PieceTokenStream>(std::move(parsed.tokens), input);
        parser.setTokenStream(next_tokens.get());  // frees the previous tree
        tokens = std::move(next_tokens);
        try {
            tree = parsed.kind == Piece::Kind::Declarations ? static_cast<antlr4::ParserRuleContext*>(parser.file())
                                                             : parser.stepChunk();
        } catch (const antlr4::ParseCancellationException&) {
            tree = nullptr;
        }
    }

    // When the answer is already known: the piece is let go unparsed.
    void skip(Piece& skipped) {
        piece = &skipped;
        tree = nullptr;
        std::vector<std::unique_ptr<antlr4::Token>>().swap(skipped.tokens);
    }

    FastParser parser;
    std::unique_ptr<PieceTokenStream> tokens;
    antlr4::ParserRuleContext* tree = nullptr;  // nullptr: the piece did not parse
    Piece* piece = nullptr;
    bool busy = false;   // a worker's: parsed, and not yet counted by the submitting thread
    bool built = false;  // its AST built by the worker  // a worker's: parsed, and its AST not built yet
};

}  // namespace

// Each thread builds the ASTs of the pieces it parsed: the builder reads a tree still in
// its own cache. The ASTs outlive the workers; mimalloc (which amlflow links) hands a
// finished thread's memory to the threads still running, so what the checker frees of
// them is reused by the plan. (glibc's malloc would keep it in the worker's arena.)
// The submitting thread counts the parsed pieces off and frees their slots.
struct PieceParsers::Shared {
    Shared(const SourceFile& file, const OffsetMap& offsets, antlr4::CharStream* input)
        : file(file), offsets(offsets), input(input), builder(file, offsets, reported, false) {}

    void work(std::vector<std::unique_ptr<Slot>>& slots);
    Slot* free_slot(std::vector<std::unique_ptr<Slot>>& slots);
    void parse(Slot& slot, Piece& piece);
    void build(Slot& slot);
    bool build_with(AstBuilder& with, const Diagnostics& reported_there, Slot& slot);
    bool build_safely(AstBuilder& with, const Diagnostics& reported_there, Slot& slot);
    void build_parsed(bool wait);
    void hand_over();

    const SourceFile& file;
    const OffsetMap& offsets;
    antlr4::CharStream* input;
    Diagnostics reported;  // the AST builder's: only ever a reason to parse the whole file
    AstBuilder builder;
    Slot here;             // the submitting thread's
    std::atomic<bool> failed{false};
    size_t submitted = 0, built = 0;  // by the submitting thread
    std::vector<Piece*> pending;      // submitted, not handed over yet

    std::mutex mutex;
    std::condition_variable work_ready, slot_freed, parsed;
    std::deque<Piece*> queue;  // to parse
    std::deque<Slot*> done;    // parsed, to build
    bool closed = false;
    std::vector<std::vector<std::unique_ptr<Slot>>> slots;  // per worker
    std::vector<std::thread> workers;
};

void PieceParsers::Shared::work(std::vector<std::unique_ptr<Slot>>& own) {
    Diagnostics reported_here;
    AstBuilder builder_here(file, offsets, reported_here, false);
    std::vector<std::pair<Piece*, Slot*>> taken;
    for (;;) {
        taken.clear();
        {
            std::unique_lock<std::mutex> lock(mutex);
            work_ready.wait(lock, [&] { return !queue.empty() || closed; });
            if (queue.empty()) return;
            slot_freed.wait(lock, [&] { return free_slot(own) != nullptr; });
            while (!queue.empty() && taken.size() < kBatch) {
                Slot* slot = free_slot(own);
                if (slot == nullptr) break;
                slot->busy = true;
                taken.emplace_back(queue.front(), slot);
                queue.pop_front();
            }
        }
        for (auto& [piece, slot] : taken) {
            parse(*slot, *piece);
            if (!build_safely(builder_here, reported_here, *slot)) failed = true;
            slot->built = true;
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            for (auto& [piece, slot] : taken) done.push_back(slot);
        }
        parsed.notify_one();
    }
}

Slot* PieceParsers::Shared::free_slot(std::vector<std::unique_ptr<Slot>>& own) {
    for (auto& slot : own) {
        if (!slot->busy) return slot.get();
    }
    return nullptr;
}

void PieceParsers::Shared::parse(Slot& slot, Piece& piece) {
    if (failed) return slot.skip(piece);
    try {
        slot.parse(piece, input);
    } catch (...) {
        slot.tree = nullptr;  // the whole-file parse will meet the same problem and say it
    }
}

// The AST of the piece `slot` parsed; false when there is none to have.
bool PieceParsers::Shared::build_with(AstBuilder& with, const Diagnostics& reported_there, Slot& slot) {
    Piece& piece = *slot.piece;
    if (slot.tree == nullptr) return false;
    if (failed) return true;
    if (piece.kind == Piece::Kind::Declarations) {
        piece.decls = with.declarations(slot.tree);
    } else {
        piece.step = with.step(slot.tree);
    }
    return reported_there.all().empty();
}

// On the submitting thread.
void PieceParsers::Shared::build(Slot& slot) {
    ++built;  // first: a throw below must not leave finish() waiting for this piece
    bool built_there = slot.built;
    slot.built = false;
    if (!built_there && !build_safely(builder, reported, slot)) failed = true;
}

// build_with, where a throw (out of memory) is one more reason for the whole-file parse.
bool PieceParsers::Shared::build_safely(AstBuilder& with, const Diagnostics& reported_there, Slot& slot) {
    try {
        return build_with(with, reported_there, slot);
    } catch (...) {
        return false;
    }
}

// Builds the ASTs of the pieces the workers have parsed; with `wait`, of all submitted.
void PieceParsers::Shared::build_parsed(bool wait) {
    while (built < submitted) {
        Slot* slot = nullptr;
        {
            std::unique_lock<std::mutex> lock(mutex);
            if (wait) parsed.wait(lock, [&] { return !done.empty(); });
            if (done.empty()) return;
            slot = done.front();
            done.pop_front();
        }
        build(*slot);
        {
            std::lock_guard<std::mutex> lock(mutex);
            slot->busy = false;
        }
        slot_freed.notify_all();
    }
}

PieceParsers::PieceParsers(const SourceFile& file, const OffsetMap& offsets, antlr4::CharStream* input,
                           int workers)
    : shared_(std::make_unique<Shared>(file, offsets, input)) {
    shared_->slots.resize(static_cast<size_t>(workers));
    for (auto& own : shared_->slots) {
        for (int i = 0; i < kSlotsPerWorker; ++i) own.push_back(std::make_unique<Slot>());
    }
    for (auto& own : shared_->slots) {
        try {
            shared_->workers.emplace_back([shared = shared_.get(), &own] { shared->work(own); });
        } catch (const std::system_error&) {
            break;  // no thread to be had: this thread parses
        }
    }
}

PieceParsers::~PieceParsers() {
    shared_->failed = true;  // what is still queued is not wanted (finish() may never have been called)
    finish();
}

bool PieceParsers::submit(Piece* piece) {
    Shared& shared = *shared_;
    if (shared.failed) return false;
    ++shared.submitted;
    if (shared.workers.empty()) {
        shared.parse(shared.here, *piece);
        shared.build(shared.here);
        return !shared.failed;
    }
    shared.pending.push_back(piece);
    if (shared.pending.size() >= kBatch) shared.hand_over();
    shared.build_parsed(false);
    return !shared.failed;
}

// Queues the pending pieces for the workers; when the queue is over its limit (the
// workers are behind), this thread parses the oldest itself.
void PieceParsers::Shared::hand_over() {
    std::vector<Piece*> own;
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (Piece* piece : pending) queue.push_back(piece);
        while (queue.size() > kQueueLimit) {
            own.push_back(queue.front());
            queue.pop_front();
        }
    }
    pending.clear();
    work_ready.notify_one();
    for (Piece* piece : own) {
        parse(here, *piece);
        build(here);
    }
}

bool PieceParsers::finish() {
    Shared& shared = *shared_;
    if (!shared.workers.empty()) {
        shared.hand_over();
        {
            std::lock_guard<std::mutex> lock(shared.mutex);
            shared.closed = true;
        }
        shared.work_ready.notify_all();
        for (;;) {  // help with what is left, building as the workers finish theirs
            Piece* piece = nullptr;
            {
                std::lock_guard<std::mutex> lock(shared.mutex);
                if (shared.queue.empty()) break;
                piece = shared.queue.front();
                shared.queue.pop_front();
            }
            shared.parse(shared.here, *piece);
            shared.build(shared.here);
            shared.build_parsed(false);
        }
        shared.build_parsed(true);
        for (std::thread& worker : shared.workers) worker.join();
        shared.workers.clear();
    }
    return !shared.failed;
}

int PieceParsers::workers_for(size_t bytes) {
    if (bytes < kThreadedBytes) return 0;
    cpu_set_t cpus;
    int usable = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
    return std::clamp(usable - 1, 0, kMaxWorkers);
}

}  // namespace amlflow::compiler
