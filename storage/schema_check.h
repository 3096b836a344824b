// What the exactly-once and money guarantees need of the schema, checked at start-up.
//
// Migrations create tables with CREATE TABLE IF NOT EXISTS, so a table that already exists (a
// legacy database adopted by orderquery) is kept as it is: without the ledger's UNIQUE key a
// credit could be applied twice, with a DECIMAL balance the fen would be read as yuan. After the
// migrations, VerifySchema reads information_schema and refuses such a database with one message
// naming everything that is missing, so start-up fails instead of the guarantees.
#ifndef ORDERQUERY_STORAGE_SCHEMA_CHECK_H_
#define ORDERQUERY_STORAGE_SCHEMA_CHECK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/mysql_pool.h"

namespace orderquery::storage {

// What information_schema says about the tables of one database.
struct SchemaFacts {
  struct Column {
    std::string data_type;    // information_schema.COLUMNS.DATA_TYPE, lower case ("bigint")
    std::string column_type;  // COLUMN_TYPE, for messages ("decimal(10,2)")
  };
  struct Key {
    bool unique = false;  // PRIMARY or UNIQUE
    std::vector<std::string> columns;
  };
  // table -> column -> column facts
  std::map<std::string, std::map<std::string, Column>> columns;
  // table -> index name -> key
  std::map<std::string, std::map<std::string, Key>> keys;
};

// Every requirement `facts` does not meet, one sentence each ("t_user.amount is decimal(10,2),
// must be BIGINT (integer fen)"); empty when the schema is fit.
std::vector<std::string> SchemaProblems(const SchemaFacts& facts);

// Reads the pool's database from information_schema.
absl::StatusOr<SchemaFacts> ReadSchemaFacts(ConnectionPool& pool);

// OK when the pool's database meets every requirement; FAILED_PRECONDITION naming all that is
// missing otherwise (UNAVAILABLE etc. when information_schema cannot be read).
absl::Status VerifySchema(ConnectionPool& pool);

}  // namespace orderquery::storage

#endif  // ORDERQUERY_STORAGE_SCHEMA_CHECK_H_
