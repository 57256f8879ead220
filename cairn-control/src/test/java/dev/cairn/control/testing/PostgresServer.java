package dev.cairn.control.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A throw-away PostgreSQL server for tests, from Debian's packages ({@code /usr/lib/postgresql/N/bin}):
 * its own data directory in a temp dir, listening on 127.0.0.1 only at a free port, password auth
 * (scram-sha-256) for user {@value #USER}, fsync off. {@link #close} stops it and deletes the directory;
 * a JVM shutdown hook does the same if a test run dies first.
 *
 * <p>PostgreSQL refuses to run as root, so when the tests run as root (here and in CI) every server
 * command runs as the unprivileged {@code postgres} OS user via {@code runuser}, and the temp dir is
 * handed to that user. Missing binaries are an error with a clear message, never a skip: CI installs
 * them ({@code apt-get install postgresql}).
 *
 * <p>Reuse: {@link PostgresExtension} shares one server per test run; {@link #createDatabase} gives each
 * test class its own empty database.
 */
public final class PostgresServer implements AutoCloseable {
    public static final String USER = "cairn";
    private static final AtomicInteger DATABASES = new AtomicInteger();

    private final Path bin;
    private final Path base;
    private final Path data;
    private final int port;
    private final String password;
    private final boolean asPostgresUser;
    private final Thread shutdownHook;
    private volatile boolean stopped;

    private PostgresServer(Path bin, Path base, int port, String password, boolean asPostgresUser) {
        this.bin = bin;
        this.base = base;
        this.data = base.resolve("data");
        this.port = port;
        this.password = password;
        this.asPostgresUser = asPostgresUser;
        this.shutdownHook = Thread.ofPlatform().unstarted(this::stopQuietly);
    }

    /** Finds the binaries, initialises a cluster and starts it; fails with a clear message if it cannot. */
    public static PostgresServer start() throws IOException, InterruptedException {
        Path bin = findBinaries();
        boolean root = isRoot();
        Path base = Files.createTempDirectory("cairn-pg-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx------"));
        String password = "pw" + Long.toHexString(Double.doubleToLongBits(Math.random()));
        Path pwfile = base.resolve("pwfile");
        Files.writeString(pwfile, password + "\n");
        if (root) {
            UserPrincipal postgres = base.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
            Files.setOwner(base, postgres);
            Files.setOwner(pwfile, postgres);
        }
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            PostgresServer server = new PostgresServer(bin, base, port, password, root);
            try {
                if (attempt == 0) {
                    server.run(List.of(bin.resolve("initdb").toString(), "-D", server.data.toString(), "-U", USER,
                            "--pwfile=" + pwfile, "-A", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"));
                }
                server.run(List.of(bin.resolve("pg_ctl").toString(), "-D", server.data.toString(), "-l",
                        base.resolve("server.log").toString(), "-w", "-t", "60", "-o",
                        "-c listen_addresses=127.0.0.1 -p " + port + " -k " + base
                                + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                        "start"));
                Runtime.getRuntime().addShutdownHook(server.shutdownHook);
                return server;
            } catch (IOException e) {
                last = e; // most likely the port was taken between probing and binding: try another
            }
        }
        deleteTree(base);
        throw last;
    }

    /** A URL in Cairn's {@code postgresql://user:pass@host:port/db} form for database {@code db}. */
    public String url(String database) {
        return "postgresql://" + USER + ":" + password + "@127.0.0.1:" + port + "/" + database;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=" + USER + "&password=" + password;
    }

    public int port() {
        return port;
    }

    /** Creates a new empty database and returns its {@link #url}. */
    public String createDatabase() throws SQLException {
        String name = "cairn_test_" + DATABASES.incrementAndGet();
        try (Connection c = DriverManager.getConnection(jdbcUrl("postgres")); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return url(name);
    }

    @Override
    public void close() {
        stopQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running or ran: nothing left to undo
        }
    }

    private synchronized void stopQuietly() {
        if (stopped) return;
        stopped = true;
        try {
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop"));
        } catch (IOException | InterruptedException e) {
            System.err.println("stopping test PostgreSQL failed: " + e.getMessage());
        }
        try {
            deleteTree(base);
        } catch (IOException e) {
            System.err.println("removing " + base + " failed: " + e.getMessage());
        }
    }

    private void run(List<String> command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asPostgresUser) full.addAll(List.of("runuser", "-u", "postgres", "--"));
        full.addAll(command);
        Process p = new ProcessBuilder(full).directory(base.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", full));
        }
        if (p.exitValue() != 0) {
            String log = Files.exists(base.resolve("server.log")) ? Files.readString(base.resolve("server.log")) : "";
            throw new IOException("`" + String.join(" ", full) + "` exited " + p.exitValue() + ":\n"
                    + new String(out, StandardCharsets.UTF_8) + log);
        }
    }

    private static Path findBinaries() {
        String override = System.getenv("CAIRN_PG_BIN");
        List<Path> candidates = new ArrayList<>();
        if (override != null) candidates.add(Path.of(override));
        candidates.add(Path.of("/usr/lib/postgresql/15/bin"));
        Path root = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(root)) {
            try (Stream<Path> versions = Files.list(root)) {
                versions.sorted(Comparator.reverseOrder()).forEach(v -> candidates.add(v.resolve("bin")));
            } catch (IOException ignored) {
                // listing failed: fall through to the error below naming what was tried
            }
        }
        for (Path c : candidates) {
            if (Files.isExecutable(c.resolve("initdb")) && Files.isExecutable(c.resolve("pg_ctl"))) return c;
        }
        throw new IllegalStateException("PostgreSQL server binaries (initdb, pg_ctl) not found in " + candidates
                + ". The catalog tests need them: apt-get install postgresql (or set CAIRN_PG_BIN).");
    }

    private static boolean isRoot() throws IOException {
        Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        return uid instanceof Integer i && i == 0;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
