package dev.cairn.control;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The catalog database: SQLite file by default, PostgreSQL when several nodes share one.
 *
 * <p><b>What it keeps true.</b> The schema is at the newest Flyway version before the constructor
 * returns ({@code db/migration/V*__*.sql}, the same portable SQL on both engines). Every
 * {@link #write} body runs in one transaction that either commits whole or leaves nothing behind, and
 * write transactions are serializable: on SQLite they are serialised by one in-process lock (SQLite has
 * a single writer; the WAL journal lets readers go on meanwhile, and {@code busy_timeout} covers another
 * process on the same file), on PostgreSQL they run at {@code SERIALIZABLE} isolation and a body that
 * loses a serialization race is run again (so bodies must not have side effects outside the
 * transaction). {@link #read} bodies see one consistent snapshot. A commit returns once it is durable,
 * except {@link #writeUnsynced}'s, which a crash may lose (with everything committed after it, never
 * half of it).
 *
 * <p><b>Threads.</b> Thread-safe; connections come from a HikariCP pool.
 */
public final class Catalog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Catalog.class);
    private static final int MAX_ATTEMPTS = 20;

    public enum Dialect { SQLITE, POSTGRESQL }

    private final Dialect dialect;
    private final HikariDataSource pool;
    private final String description;
    /** SQLite only: one writer at a time inside this process. */
    private final ReentrantLock sqliteWriter = new ReentrantLock(true);

    /** A transaction body. Runs on one connection; throw to roll back. */
    @FunctionalInterface
    public interface TxBody<T> {
        T run(Tx tx) throws SQLException;
    }

    /** Maps the current row of a result set. */
    @FunctionalInterface
    public interface RowMapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    private Catalog(Dialect dialect, HikariConfig config, String description) {
        this.dialect = dialect;
        this.description = description;
        this.pool = new HikariDataSource(config);
        try {
            Flyway.configure()
                    .dataSource(pool)
                    .locations("classpath:db/migration")
                    .load()
                    .migrate();
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        log.info("catalog open dialect={} db={}", dialect, description);
    }

    /**
     * The catalog {@code cairn serve} uses: {@code databaseUrl} when given (PostgreSQL, see
     * {@link #postgres}), else the SQLite file {@code dataDir/cairn.db}.
     */
    public static Catalog open(Path dataDir, String databaseUrl) throws IOException {
        if (databaseUrl != null && !databaseUrl.isBlank()) return postgres(databaseUrl);
        Files.createDirectories(dataDir);
        return sqlite(dataDir.resolve("cairn.db"));
    }

    /** A SQLite catalog in {@code file} (created if absent): WAL journal, 10 s busy timeout, foreign keys on. */
    public static Catalog sqlite(Path file) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl("jdbc:sqlite:" + file.toAbsolutePath());
        c.setPoolName("cairn-catalog-sqlite");
        c.setMaximumPoolSize(4);
        c.addDataSourceProperty("journal_mode", "WAL");
        c.addDataSourceProperty("synchronous", "FULL");
        c.addDataSourceProperty("busy_timeout", "10000");
        c.addDataSourceProperty("foreign_keys", "true");
        return new Catalog(Dialect.SQLITE, c, file.toString());
    }

    /**
     * A PostgreSQL catalog. Accepts {@code postgresql://user:pass@host:port/db[?params]} (also
     * {@code postgres://}) and {@code jdbc:postgresql://…} URLs.
     */
    public static Catalog postgres(String url) {
        HikariConfig c = new HikariConfig();
        c.setPoolName("cairn-catalog-postgresql");
        c.setMaximumPoolSize(8);
        String shown;
        if (url.startsWith("jdbc:postgresql:")) {
            c.setJdbcUrl(url);
            shown = url.replaceAll("password=[^&]*", "password=***");
        } else if (url.startsWith("postgresql://") || url.startsWith("postgres://")) {
            URI u = URI.create(url);
            if (u.getHost() == null) throw new IllegalArgumentException("database URL has no host: " + redact(url));
            int port = u.getPort() < 0 ? 5432 : u.getPort();
            String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/postgres" : u.getRawPath();
            String jdbc = "jdbc:postgresql://" + u.getHost() + ":" + port + path
                    + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
            c.setJdbcUrl(jdbc);
            String userInfo = u.getRawUserInfo();
            if (userInfo != null) {
                int colon = userInfo.indexOf(':');
                c.setUsername(decode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
                if (colon >= 0) c.setPassword(decode(userInfo.substring(colon + 1)));
            }
            shown = jdbc;
        } else {
            throw new IllegalArgumentException("not a PostgreSQL URL (postgresql://… or jdbc:postgresql://…): " + redact(url));
        }
        return new Catalog(Dialect.POSTGRESQL, c, shown);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static String redact(String url) {
        return url.replaceAll("//([^:/@]*):[^@]*@", "//$1:***@");
    }

    public Dialect dialect() {
        return dialect;
    }

    /** The pool, for other parts of Cairn that keep their own tables in this database. */
    public DataSource dataSource() {
        return pool;
    }

    /** Runs {@code body} in a serializable read-write transaction and commits it (see class comment). */
    public <T> T write(TxBody<T> body) {
        return write(body, true, true);
    }

    /**
     * Like {@link #write}, but on PostgreSQL at READ COMMITTED: for work queues whose bodies protect
     * themselves with row locks ({@code FOR UPDATE SKIP LOCKED}, see {@link #skipLocked}) and conditional
     * updates, where serializable isolation would only turn workers' disjoint claims into retries.
     */
    public <T> T writeLocked(TxBody<T> body) {
        return write(body, false, true);
    }

    /**
     * Like {@link #write}, but the commit does not wait for the disk: a crash may lose this transaction
     * (never half of it, and never without every transaction committed after it — the log is in commit
     * order, so the next commit that waits makes this one durable too). For rows a restart would throw
     * away anyway, such as {@code CreateSnapshot}'s {@code CREATING} rows, whose flush otherwise waits
     * behind the disks' own writeback (ext4 has one journal for the whole file system).
     */
    public <T> T writeUnsynced(TxBody<T> body) {
        return write(body, true, false);
    }

    /** {@code " FOR UPDATE SKIP LOCKED"} on PostgreSQL; nothing on SQLite, whose single writer already excludes others. */
    public String skipLocked() {
        return dialect == Dialect.POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "";
    }

    private <T> T write(TxBody<T> body, boolean serializable, boolean synced) {
        if (dialect == Dialect.SQLITE) {
            sqliteWriter.lock();
            try {
                return attempt(body, false, true, synced);
            } catch (SQLException e) {
                throw new CatalogException("catalog write failed", e);
            } finally {
                sqliteWriter.unlock();
            }
        }
        for (int attempt = 1; ; attempt++) {
            try {
                return attempt(body, false, serializable, synced);
            } catch (SQLException e) {
                if (!retryable(e) || attempt >= MAX_ATTEMPTS) throw new CatalogException("catalog write failed", e);
                log.debug("catalog retry attempt={} sqlstate={}", attempt, e.getSQLState());
                backOff(attempt);
            }
        }
    }

    /** Runs {@code body} in a read-only transaction. */
    public <T> T read(TxBody<T> body) {
        try {
            return attempt(body, true, true, true);
        } catch (SQLException e) {
            throw new CatalogException("catalog read failed", e);
        }
    }

    private <T> T attempt(TxBody<T> body, boolean readOnly, boolean serializable, boolean synced) throws SQLException {
        try (Connection c = pool.getConnection()) {
            // SQLite: set outside a transaction, and back before the pool lends the connection again
            if (!synced && dialect == Dialect.SQLITE) execute(c, "PRAGMA synchronous = NORMAL");
            c.setAutoCommit(false);
            if (dialect == Dialect.POSTGRESQL) {
                c.setTransactionIsolation(serializable ? Connection.TRANSACTION_SERIALIZABLE : Connection.TRANSACTION_READ_COMMITTED);
                if (readOnly) c.setReadOnly(true);
                if (!synced) execute(c, "SET LOCAL synchronous_commit TO OFF"); // this transaction only
            }
            try {
                T result = body.run(new Tx(c));
                c.commit();
                return result;
            } catch (SQLException | RuntimeException | Error e) {
                try {
                    c.rollback();
                } catch (SQLException rollback) {
                    e.addSuppressed(rollback);
                }
                throw e;
            } finally {
                if (readOnly && dialect == Dialect.POSTGRESQL) c.setReadOnly(false);
                c.setAutoCommit(true);
                if (!synced && dialect == Dialect.SQLITE) restoreSynchronous(c);
            }
        }
    }

    /** Puts a SQLite connection back to waiting for the disk; one that cannot be is dropped from the pool, not lent again. */
    private void restoreSynchronous(Connection c) throws SQLException {
        try {
            execute(c, "PRAGMA synchronous = FULL");
        } catch (SQLException e) {
            pool.evictConnection(c);
            throw e;
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (var s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static boolean retryable(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null
                    && (s.getSQLState().equals("40001") || s.getSQLState().equals("40P01") || s.getSQLState().equals("23505"))) {
                // 40001 serialization failure, 40P01 deadlock, 23505 unique violation between two
                // concurrent first inserts (e.g. two nodes bootstrapping): all are won by running again.
                return true;
            }
        }
        return false;
    }

    private static void backOff(int attempt) {
        try {
            Thread.sleep(ThreadLocalRandom.current().nextInt(1, 5 * Math.min(attempt, 10) + 2));
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new CatalogException("interrupted while retrying a catalog write", ie);
        }
    }

    @Override
    public void close() {
        pool.close();
    }

    @Override
    public String toString() {
        return "Catalog[" + dialect + " " + description + "]";
    }

    /** A catalog failure that is not the caller's fault (I/O, driver, constraint surprises). */
    public static final class CatalogException extends RuntimeException {
        public CatalogException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** One transaction's connection, with small helpers. Not thread-safe; valid only inside its body. */
    public static final class Tx {
        private final Connection c;

        Tx(Connection c) {
            this.c = c;
        }

        public Connection connection() {
            return c;
        }

        /** Executes an INSERT/UPDATE/DELETE and returns the number of rows changed. */
        public int update(String sql, Object... args) throws SQLException {
            try (PreparedStatement ps = prepare(sql, args)) {
                return ps.executeUpdate();
            }
        }

        public <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
            try (PreparedStatement ps = prepare(sql, args); ResultSet rs = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (rs.next()) out.add(mapper.map(rs));
                return out;
            }
        }

        public <T> Optional<T> first(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
            try (PreparedStatement ps = prepare(sql, args); ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.ofNullable(mapper.map(rs)) : Optional.empty();
            }
        }

        /** The first column of the first row as a long (0 when there is no row or it is NULL). */
        public long count(String sql, Object... args) throws SQLException {
            return first(sql, rs -> rs.getLong(1), args).orElse(0L);
        }

        private PreparedStatement prepare(String sql, Object... args) throws SQLException {
            PreparedStatement ps = c.prepareStatement(sql);
            try {
                for (int i = 0; i < args.length; i++) {
                    Object a = args[i];
                    switch (a) {
                        case null -> ps.setObject(i + 1, null);
                        case Boolean b -> ps.setBoolean(i + 1, b);
                        case Integer n -> ps.setLong(i + 1, n);
                        case Long n -> ps.setLong(i + 1, n);
                        case Enum<?> e -> ps.setString(i + 1, e.name());
                        default -> ps.setString(i + 1, a.toString());
                    }
                }
                return ps;
            } catch (SQLException | RuntimeException e) {
                ps.close();
                throw e;
            }
        }
    }
}
