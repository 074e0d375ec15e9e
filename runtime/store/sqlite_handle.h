// Thin RAII wrappers over SQLite's C API for the run store: a connection that owns its
// prepared statements, one use of a statement that always resets it, and a write
// transaction that rolls back unless committed. Nothing here throws; every failure comes
// back as a result code with SQLite's message kept beside it.
//
// Why a use resets on destruction: in WAL mode a statement left after SQLITE_ROW holds
// its read transaction open, so the connection would keep reading an old snapshot and
// block checkpoints. Tying the reset to scope makes that impossible to forget.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace amlflow::runtime::sqlite {

struct DatabaseCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// One use of a prepared statement: bind, step, read columns. Bind failures are kept and
// reported by the next step(), so a chain of binds needs no checks of its own.
class Query {
public:
    Query(sqlite3* db, sqlite3_stmt* statement, int prepare_rc)
        : db_(db), statement_(statement), rc_(prepare_rc) {
        if (rc_ != SQLITE_OK) error_ = sqlite3_errmsg(db_);
    }
    ~Query() {
        if (statement_) {
            sqlite3_reset(statement_);
            sqlite3_clear_bindings(statement_);
        }
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& bind(int index, std::string_view text) {
        // SQLITE_TRANSIENT copies: callers bind temporaries that die before step().
        return check(sqlite3_bind_text(statement_, index, text.data(),
                                       static_cast<int>(text.size()), SQLITE_TRANSIENT));
    }
    Query& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Query& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Query& bind(int index, int64_t value) {
        return check(sqlite3_bind_int64(statement_, index, value));
    }
    Query& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Query& bind(int index, double value) {
        return check(sqlite3_bind_double(statement_, index, value));
    }
    Query& bind_null(int index) { return check(sqlite3_bind_null(statement_, index)); }
    // Empty text and the "unset" sentinel of an integer both mean SQL NULL.
    Query& bind_or_null(int index, const std::string& text) {
        return text.empty() ? bind_null(index) : bind(index, text);
    }
    Query& bind_or_null(int index, int64_t value, int64_t unset) {
        return value == unset ? bind_null(index) : bind(index, value);
    }

    // SQLITE_ROW, SQLITE_DONE, or an error code (extended) with error() set.
    int step() {
        if (rc_ != SQLITE_OK) return rc_;
        int rc = sqlite3_step(statement_);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            rc_ = rc;
            error_ = sqlite3_errmsg(db_);
        }
        return rc;
    }
    // Steps a statement that returns no rows; true when it ran to completion.
    bool run() { return step() == SQLITE_DONE; }

    bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
    int64_t integer(int column, int64_t if_null = 0) const {
        return is_null(column) ? if_null : sqlite3_column_int64(statement_, column);
    }
    double real(int column) const { return sqlite3_column_double(statement_, column); }
    std::string text(int column) const {
        const unsigned char* bytes = sqlite3_column_text(statement_, column);
        if (!bytes) return {};
        return std::string(reinterpret_cast<const char*>(bytes),
                           static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
    }

    int rc() const { return rc_; }
    const std::string& error() const { return error_; }

private:
    Query& check(int rc) {
        if (rc != SQLITE_OK && rc_ == SQLITE_OK) {
            rc_ = rc;
            error_ = sqlite3_errmsg(db_);
        }
        return *this;
    }

    sqlite3* db_;
    sqlite3_stmt* statement_;
    int rc_;
    std::string error_;
};

// A database connection and the statements prepared on it, each prepared once and kept
// for the connection's life (SQLITE_PREPARE_PERSISTENT), keyed by their SQL text.
class Connection {
public:
    // Opens (creating if allowed) the database file. Returns nullptr with *error set.
    static std::unique_ptr<Connection> open(const std::filesystem::path& file, bool create,
                                            std::string* error) {
        sqlite3* raw = nullptr;
        int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
        int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
        DatabasePtr db(raw);
        if (rc != SQLITE_OK) {
            *error = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
            return nullptr;
        }
        sqlite3_extended_result_codes(raw, 1);
        return std::unique_ptr<Connection>(new Connection(std::move(db)));
    }

    Query query(const std::string& sql) {
        auto found = statements_.find(sql);
        if (found == statements_.end()) {
            sqlite3_stmt* raw = nullptr;
            int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
            if (rc != SQLITE_OK) return Query(db_.get(), nullptr, rc);
            found = statements_.emplace(sql, StatementPtr(raw)).first;
        }
        return Query(db_.get(), found->second.get(), SQLITE_OK);
    }

    // Runs statements that return nothing worth reading (schema, pragmas that set).
    bool exec(const char* sql, std::string* error) {
        char* message = nullptr;
        int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
        if (rc == SQLITE_OK) return true;
        *error = message ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return false;
    }

    sqlite3* get() const { return db_.get(); }
    int changes() const { return sqlite3_changes(db_.get()); }
    bool in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

private:
    explicit Connection(DatabasePtr db) : db_(std::move(db)) {}

    // Declared after db_ so that statements are finalized before the database closes.
    DatabasePtr db_;
    std::unordered_map<std::string, StatementPtr> statements_;
};

// BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads and
// then writes can fail with SQLITE_BUSY on the upgrade without the busy handler ever
// waiting, which is exactly the case of two writers on one store.
class Transaction {
public:
    explicit Transaction(Connection& connection) : connection_(connection) {
        Query begin = connection_.query("BEGIN IMMEDIATE");
        ok_ = begin.run();
        if (!ok_) error_ = begin.error();
    }
    ~Transaction() {
        if (ok_ && !committed_ && connection_.in_transaction()) {
            Query rollback = connection_.query("ROLLBACK");
            rollback.run();
        }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    bool ok() const { return ok_; }
    const std::string& error() const { return error_; }

    bool commit() {
        Query commit = connection_.query("COMMIT");
        committed_ = commit.run();
        if (!committed_) error_ = commit.error();
        return committed_;
    }

private:
    Connection& connection_;
    bool ok_ = false;
    bool committed_ = false;
    std::string error_;
};

// Makes the commits made while it lives fsync the WAL (synchronous=FULL), then puts the
// connection back to NORMAL. Setting the pragma cannot fail on an open connection short
// of memory exhaustion, and if it did the commit would still be crash-safe, only not
// power-loss-safe, so its result is not checked.
class FullSyncScope {
public:
    FullSyncScope(Connection& connection, bool enabled) : connection_(connection), enabled_(enabled) {
        if (enabled_) set("PRAGMA synchronous = FULL");
    }
    ~FullSyncScope() {
        if (enabled_) set("PRAGMA synchronous = NORMAL");
    }
    FullSyncScope(const FullSyncScope&) = delete;
    FullSyncScope& operator=(const FullSyncScope&) = delete;

private:
    void set(const char* sql) {
        Query pragma = connection_.query(sql);
        pragma.run();
    }

    Connection& connection_;
    bool enabled_;
};

}  // namespace amlflow::runtime::sqlite
