// The run store's database schema and connection settings, apart from the code that
// reads and writes records, so that the whole layout can be read in one place and
// every change to it is a numbered migration.
#pragma once

#include <string>

#include "runtime/store/sqlite_handle.h"

namespace amlflow::runtime {

// Sets the connection up for the store (busy timeout, WAL, synchronous=NORMAL, foreign
// keys) and brings the schema to RunStore::kSchemaVersion, creating it in a new file.
// Safe when several processes open a new store at once. False with *error set when the
// file cannot be set up or holds a schema newer than this build knows.
bool prepare_store_database(sqlite::Connection& db, std::string* error);

// The SQL of schema version 1, as amlflow 0.1 wrote it: for the migration test, which
// builds an old store and opens it with this build.
const char* store_schema_v1();
// What version 2 added on top of version 1, as amlflow 0.2 wrote it (same use).
const char* store_schema_v2_upgrade();

}  // namespace amlflow::runtime
