package dev.cairn.control;

/** The snapshot suite on SQLite. */
class SqliteSnapshotTest extends SnapshotContract {
    @Override
    Catalog openCatalog() {
        return Catalog.sqlite(dir.resolve("cairn.db"));
    }

    @Override
    Catalog openFreshCatalog() {
        return Catalog.sqlite(dir.resolve("fresh.db"));
    }
}
