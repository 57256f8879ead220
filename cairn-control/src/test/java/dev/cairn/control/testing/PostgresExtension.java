package dev.cairn.control.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit extension that injects one {@link PostgresServer} shared by every test class of the run
 * (started on first use, stopped when the run ends). Use with
 * {@code @ExtendWith(PostgresExtension.class)} and a {@code PostgresServer} parameter on a
 * {@code @BeforeAll}/{@code @BeforeEach} method or a test; take a fresh database per class with
 * {@link PostgresServer#createDatabase}. If the binaries are missing the test fails, it is not skipped.
 */
public final class PostgresExtension implements ParameterResolver {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(PostgresExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
        return p.getParameter().getType() == PostgresServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext e) {
        return e.getRoot().getStore(NS).computeIfAbsent(PostgresServer.class, k -> {
            try {
                return PostgresServer.start();
            } catch (Exception ex) {
                throw new ParameterResolutionException("could not start a test PostgreSQL: " + ex.getMessage(), ex);
            }
        }, PostgresServer.class);
    }
}
