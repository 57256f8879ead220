package dev.cairn.control;

/** The snapshot suite on SQLite. */
class SqliteSnapshotTest extends SnapshotContract {
    @Override
    Catalog openCatalog() {
        return Catalog.sqlite(dir.resolve("cairn.db"));
    }
}
