package dev.cairn.control;

import dev.cairn.control.testing.PostgresExtension;
import dev.cairn.control.testing.PostgresServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.SQLException;

/** The snapshot suite on PostgreSQL: one throw-away server, a fresh database per test. */
@ExtendWith(PostgresExtension.class)
class PostgresSnapshotTest extends SnapshotContract {
    private static PostgresServer server;
    private String url; // per test: JUnit makes a new instance for each

    @BeforeAll
    static void server(PostgresServer s) {
        server = s;
    }

    @Override
    Catalog openCatalog() {
        try {
            if (url == null) url = server.createDatabase();
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return Catalog.postgres(url);
    }

    @Override
    Catalog openFreshCatalog() {
        try {
            return Catalog.postgres(server.createDatabase());
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
