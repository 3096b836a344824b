// Internal to storage/: the migration files compiled into the binary (generated at build time
// by embed_migrations.cmake). Use EmbeddedMigrations() in migrations.h instead.
#ifndef ORDERQUERY_STORAGE_EMBEDDED_MIGRATIONS_H_
#define ORDERQUERY_STORAGE_EMBEDDED_MIGRATIONS_H_

#include <cstddef>

namespace orderquery::storage::internal {

struct EmbeddedMigrationFile {
  const char* file_name;  // "001_init.sql"
  const unsigned char* data;
  size_t size;
};

extern const EmbeddedMigrationFile kEmbeddedMigrationFiles[];
extern const size_t kEmbeddedMigrationFileCount;

}  // namespace orderquery::storage::internal

#endif  // ORDERQUERY_STORAGE_EMBEDDED_MIGRATIONS_H_
