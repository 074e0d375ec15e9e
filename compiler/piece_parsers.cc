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
#include "compiler/ast_pack.h"
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

// A parser with SLL prediction that bails out at the first problem, and an AST builder:
// one per thread. A piece is parsed and its AST built at once, so its tree lives only
// until the next piece.
class PieceParser {
public:
    PieceParser(const SourceFile& file, const OffsetMap& offsets, antlr4::CharStream* input, bool pack_steps)
        : file_(file), input_(input), pack_steps_(pack_steps), parser_(nullptr), builder_(file, offsets, reported_, false) {
        parser_.removeErrorListeners();
        parser_.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
            antlr4::atn::PredictionMode::SLL);
        parser_.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
    }

    // False when the piece gives no AST: it does not parse, the builder reported something,
    // or something threw (out of memory): each a reason for the whole-file parse.
    bool parse(Piece& piece) {
        try {
            auto tokens = std::make_unique<PieceTokenStream>(std::move(piece.tokens), input_);
            parser_.setTokenStream(tokens.get());  // frees the previous tree
            tokens_ = std::move(tokens);
            if (piece.kind == Piece::Kind::Declarations) {
                piece.decls = builder_.declarations(parser_.file());
            } else {
                piece.step = builder_.step(parser_.stepChunk());
                // A template stays unpacked: the bindings and sweeps of it read its tree.
                if (pack_steps_ && piece.step && !piece.step->is_template) ast::pack_step_body(*piece.step, file_);
            }
            return reported_.all().empty();
        } catch (...) {
            return false;
        }
    }

private:
    const SourceFile& file_;
    antlr4::CharStream* input_;
    bool pack_steps_;
    FastParser parser_;
    std::unique_ptr<PieceTokenStream> tokens_;  // the last piece's: its tree points into them
    Diagnostics reported_;                     // the builder's: only ever a reason to give up
    AstBuilder builder_;
};

}  // namespace

// Each thread builds the ASTs of the pieces it parsed: the builder reads a tree still in
// its own cache. The ASTs outlive the workers; mimalloc (which amlflow links) hands a
// finished thread's memory to the threads still running, so what the checker frees of
// them is reused by the plan. (glibc's malloc would keep it in the worker's arena.)
struct PieceParsers::Shared {
    Shared(const SourceFile& file, const OffsetMap& offsets, antlr4::CharStream* input, bool pack_steps)
        : file(file), offsets(offsets), input(input), pack_steps(pack_steps), here(file, offsets, input, pack_steps) {}

    void work();
    void run(PieceParser& parser, Piece& piece);
    void hand_over();
    void count(size_t pieces);

    const SourceFile& file;
    const OffsetMap& offsets;
    antlr4::CharStream* input;
    bool pack_steps;
    PieceParser here;  // the submitting thread's
    std::atomic<bool> failed{false};
    size_t submitted = 0;         // by the submitting thread
    std::vector<Piece*> pending;  // submitted, not handed over yet

    std::mutex mutex;
    std::condition_variable work_ready, all_done;
    std::deque<Piece*> queue;  // to parse
    size_t done = 0;           // pieces parsed (or let go), on any thread
    bool closed = false;
    std::vector<std::thread> workers;
};

void PieceParsers::Shared::work() {
    PieceParser parser(file, offsets, input, pack_steps);
    std::vector<Piece*> taken;
    for (;;) {
        taken.clear();
        {
            std::unique_lock<std::mutex> lock(mutex);
            work_ready.wait(lock, [&] { return !queue.empty() || closed; });
            if (queue.empty()) return;
            while (!queue.empty() && taken.size() < kBatch) {
                taken.push_back(queue.front());
                queue.pop_front();
            }
        }
        for (Piece* piece : taken) run(parser, *piece);
        count(taken.size());
    }
}

void PieceParsers::Shared::run(PieceParser& parser, Piece& piece) {
    if (failed) {  // the answer is known: the piece is let go unparsed
        std::vector<std::unique_ptr<antlr4::Token>>().swap(piece.tokens);
        return;
    }
    if (!parser.parse(piece)) failed = true;
}

void PieceParsers::Shared::count(size_t pieces) {
    {
        std::lock_guard<std::mutex> lock(mutex);
        done += pieces;
    }
    all_done.notify_one();
}

PieceParsers::PieceParsers(const SourceFile& file, const OffsetMap& offsets, antlr4::CharStream* input,
                           int workers, bool pack_steps)
    : shared_(std::make_unique<Shared>(file, offsets, input, pack_steps)) {
    for (int i = 0; i < workers; ++i) {
        try {
            shared_->workers.emplace_back([shared = shared_.get()] { shared->work(); });
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
        shared.run(shared.here, *piece);
        shared.count(1);
        return !shared.failed;
    }
    shared.pending.push_back(piece);
    if (shared.pending.size() >= kBatch) shared.hand_over();
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
    for (Piece* piece : own) run(here, *piece);
    if (!own.empty()) count(own.size());
}

bool PieceParsers::finish() {
    Shared& shared = *shared_;
    if (shared.workers.empty()) return !shared.failed;
    shared.hand_over();
    {
        std::lock_guard<std::mutex> lock(shared.mutex);
        shared.closed = true;
    }
    shared.work_ready.notify_all();
    for (;;) {  // help with what is left
        Piece* piece = nullptr;
        {
            std::lock_guard<std::mutex> lock(shared.mutex);
            if (shared.queue.empty()) break;
            piece = shared.queue.front();
            shared.queue.pop_front();
        }
        shared.run(shared.here, *piece);
        shared.count(1);
    }
    {
        std::unique_lock<std::mutex> lock(shared.mutex);
        shared.all_done.wait(lock, [&] { return shared.done == shared.submitted; });
    }
    for (std::thread& worker : shared.workers) worker.join();
    shared.workers.clear();
    return !shared.failed;
}

int PieceParsers::workers_for(size_t bytes) {
    if (bytes < kThreadedBytes) return 0;
    cpu_set_t cpus;
    int usable = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
    return std::clamp(usable - 1, 0, kMaxWorkers);
}

}  // namespace amlflow::compiler
