package dev.cairn.control;

/** The control-plane suite on the default engine: a SQLite file in a temp dir. */
class SqliteCatalogTest extends CloudControlContract {
    @Override
    Catalog openCatalog() {
        return Catalog.sqlite(dir.resolve("cairn.db"));
    }
}
