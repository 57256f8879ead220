package dev.cairn.control;

/** The policy and scheduler suite on SQLite. */
class SqlitePolicyTest extends PolicyContract {
    @Override
    Catalog openCatalog() {
        return Catalog.sqlite(dir.resolve("cairn.db"));
    }
}
