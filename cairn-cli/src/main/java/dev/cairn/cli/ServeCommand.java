package dev.cairn.cli;

import dev.cairn.api.ApiServer;
import dev.cairn.control.Accounts;
import dev.cairn.control.Catalog;
import dev.cairn.control.CloudControl;
import dev.cairn.control.Limits;
import dev.cairn.control.Region;
import dev.cairn.control.Billing;
import dev.cairn.control.ServerHooks;
import dev.cairn.control.TestClock;
import dev.cairn.nbd.Export;
import dev.cairn.nbd.ExportInfo;
import dev.cairn.nbd.ExportRegistry;
import dev.cairn.nbd.NbdMetrics;
import dev.cairn.nbd.NbdServer;
import dev.cairn.repository.Repository;
import dev.cairn.snapshot.BaseCache;
import dev.cairn.snapshot.SnapshotEngine;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cairn serve}: builds the object graph by hand (catalog, repository → base cache → volumes →
 * snapshot engine → control → API and NBD listeners), writes the admin credentials on first start, prints the ready line once both listeners
 * accept connections, and on SIGTERM stops in the reverse order so every volume is flushed.
 */
@Command(name = "serve", description = "Run the Cairn server: the API on --api-listen and disks over NBD on --nbd-listen.")
final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @Option(names = "--data", paramLabel = "DIR", defaultValue = "./data",
            description = "Catalog, credentials and volumes live here (default: ${DEFAULT-VALUE}).")
    Path data;

    @Option(names = "--api-listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:8080",
            description = "API, /metrics and /healthz (default: ${DEFAULT-VALUE}).")
    String apiListen;

    @Option(names = "--nbd-listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10809",
            description = "NBD listener (default: ${DEFAULT-VALUE}).")
    String nbdListen;

    @Option(names = "--region", defaultValue = Region.DEFAULT_NAME, description = "Region served (default: ${DEFAULT-VALUE}).")
    String region;

    @Option(names = "--test-clock",
            description = "Make the service clock controllable with 'cairn clock advance' (for tests; signatures still use real time).")
    boolean testClock;

    @Option(names = "--catalog", paramLabel = "URL",
            description = "postgresql://user:pass@host:port/db to share a catalog between nodes (default: SQLite DATA/cairn.db).")
    String catalogUrl;

    @Option(names = "--repository", paramLabel = "DIR|s3://BUCKET[/PREFIX]?endpoint=URL",
            description = "Where snapshots are stored (default: DATA/repository). S3 keys come from CAIRN_S3_ACCESS_KEY_ID and CAIRN_S3_SECRET_ACCESS_KEY.")
    String repository;

    @Option(names = "--repository-key-file", paramLabel = "FILE",
            description = "Encrypt a new repository with this key file (64 hex digits), or open an encrypted one.")
    Path repositoryKeyFile;

    @Option(names = "--repository-block-size", paramLabel = "KiB",
            description = "Block size of a new repository, a power of two from 64 to 4096 KiB (default: 64; an existing repository keeps its own).")
    Integer repositoryBlockKiB;

    @Option(names = "--time-zone", paramLabel = "ZONE", defaultValue = "Asia/Shanghai",
            description = "The region's time zone: policy hours and the API's times are in it (default: ${DEFAULT-VALUE}, UTC+8 like Tencent's mainland regions).")
    String timeZone;

    @Option(names = "--hooks-dir", paramLabel = "DIR",
            description = "Consistency hooks that auto-snapshot policies may name: executables in this directory (default: DATA/hooks).")
    Path hooksDir;

    @Option(names = "--snapshot-recycle-days", paramLabel = "DAYS", defaultValue = "0",
            description = "Keep deleted snapshots recoverable in a recycle bin for this many days (0-365; default: ${DEFAULT-VALUE}, deleted at once).")
    int recycleDays;

    @Option(names = "--snapshot-price", paramLabel = "PRICE", defaultValue = "0.12",
            description = "Price of stored snapshot data per GiB-month (default: ${DEFAULT-VALUE}; 730 hours make a month).")
    double snapshotPrice;

    @Option(names = "--currency", defaultValue = "CNY", description = "Currency of --snapshot-price (default: ${DEFAULT-VALUE}).")
    String currency;

    @Option(names = "--free-gib", paramLabel = "GiB", defaultValue = "0",
            description = "Free snapshot storage per account, shown as FreeQuota (default: ${DEFAULT-VALUE}).")
    double freeGib;

    @Option(names = "--flatten-rate", paramLabel = "MiB/s", defaultValue = "256",
            description = "How fast rolled-back and cloned disks copy their snapshot in the background (0: unlimited; default: ${DEFAULT-VALUE}).")
    long flattenRateMiB;

    @Option(names = "--peer-region", paramLabel = "CREDENTIALS",
            description = "Another region's Cairn to copy snapshots to (CopySnapshotCrossRegions): the credentials.json its first start "
                    + "wrote (region, endpoint, admin key). Repeat for more regions.")
    List<Path> peerRegions = new java.util.ArrayList<>();

    @Option(names = "--copy-rate", paramLabel = "MiB/s", defaultValue = "0",
            description = "Bandwidth limit of cross-region copies' block data (0: unlimited; default: ${DEFAULT-VALUE}).")
    long copyRateMiB;

    private static java.time.ZoneId zone(String id) {
        try {
            return java.time.ZoneId.of(id);
        } catch (java.time.DateTimeException e) {
            throw new IllegalArgumentException("--time-zone: not a time zone: `" + id + "` (use a name like Asia/Shanghai or an offset like +08:00)");
        }
    }

    @Override
    public Integer call() throws Exception {
        Path dataDir = data.toAbsolutePath().normalize();
        Files.createDirectories(dataDir);
        java.time.ZoneId zone = zone(timeZone);
        PrometheusRegistry metrics = new PrometheusRegistry();
        JvmMetrics.builder().register(metrics);

        Catalog catalog = Catalog.open(dataDir, catalogUrl);
        InstantSource clock = testClock ? TestClock.stored(catalog) : InstantSource.system(); // a restart resumes the test clock
        Repository repo = RepositoryLocation.openOrCreate(repository, dataDir, repositoryKeyFile,
                repositoryBlockKiB == null ? 0 : repositoryBlockKiB << 10, System.getenv());
        BaseCache cache = new BaseCache(dataDir.resolve("cache"), repo);
        VolumeManager volumes = new VolumeManager(dataDir.resolve("volumes"), repo.blockSize(), cache);
        SnapshotEngine engine = new SnapshotEngine(repo, volumes, cache, captureThreads());
        CloudControl control = new CloudControl(catalog, volumes, engine, Region.of(region).withTimeZone(zone).withPrices(new Billing.Prices(snapshotPrice, currency, freeGib)),
                Limits.defaults().withSnapshotRecycleDays(recycleDays), clock,
                flattenRateMiB << 20, new ServerHooks(hooksDir != null ? hooksDir.toAbsolutePath() : dataDir.resolve("hooks")));
        NbdServer nbd = new NbdServer(address("--nbd-listen", nbdListen), new Exports(control), new NbdMetrics(metrics));
        control.setExportRevoked(nbd::disconnect);
        ApiServer api = new ApiServer(address("--api-listen", apiListen), control, metrics);

        // SIGTERM/SIGINT ask for an orderly stop on the main thread, which then exits 0 (a JVM killed by the
        // default handler would exit 143 after running hooks in no particular order).
        CountDownLatch stopRequested = new CountDownLatch(1);
        for (String signal : List.of("TERM", "INT")) {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> stopRequested.countDown());
        }
        nbd.start();
        control.setNbdEndpoint("nbd://" + hostPort(nbd.address()));
        api.start();
        String endpoint = "http://" + hostPort(api.address());
        Path credentialsFile = dataDir.resolve("credentials.json");
        Accounts.Credentials admin = control.accounts().bootstrapAdmin();
        new Credentials(String.valueOf(admin.accountId()), admin.secretId(), admin.secretKey(), region, endpoint)
                .write(credentialsFile, Main.JSON);
        System.out.println("credentials: " + credentialsFile + " (account " + admin.accountId() + ")");
        List<dev.cairn.control.RegionPeer> peers = new java.util.ArrayList<>();
        for (Path p : peerRegions) peers.add(dev.cairn.api.PeerRegionClient.fromCredentials(p));
        control.snapshotCopies().start(peers, copyRateMiB << 20); // also resumes copies a stop interrupted
        System.out.println("cairn ready api=" + endpoint + " nbd=nbd://" + hostPort(nbd.address()));
        System.out.flush();
        log.info("ready api={} nbd={} data={} catalog={} clock={}", endpoint, hostPort(nbd.address()), dataDir, catalog, testClock ? "test" : "system");
        stopRequested.await();
        log.info("stopping");
        closeQuietly("api", api);
        closeQuietly("nbd", nbd);
        closeQuietly("control", control);
        closeQuietly("volumes", volumes); // flushes every open volume, saves change tracking
        closeQuietly("cache", cache);
        closeQuietly("catalog", catalog);
        log.info("stopped");
        return 0;
    }

    /**
     * Serves a disk while the control plane says it is attached to a running instance, and a NORMAL
     * snapshot read-only under its id.
     */
    private record Exports(CloudControl control) implements ExportRegistry {
        @Override
        public Optional<Export> open(String name) throws IOException {
            if (name.startsWith("snap-")) {
                return control.snapshots().openExport(name).map(volume -> new VolumeExport(name, "snapshot " + name + " (read-only)", volume));
            }
            return control.openExport(name).map(volume -> new VolumeExport(name, "cloud disk " + name, volume));
        }

        @Override
        public List<ExportInfo> list() {
            List<ExportInfo> all = new java.util.ArrayList<>();
            control.exportedDiskIds().forEach(id -> all.add(new ExportInfo(id, "cloud disk " + id)));
            control.snapshots().exportedSnapshotIds().forEach(id -> all.add(new ExportInfo(id, "snapshot " + id + " (read-only)")));
            return all;
        }
    }

    private record VolumeExport(String name, String description, Volume volume) implements Export {
        @Override
        public void close() {
            try {
                volume.close();
            } catch (IOException e) {
                log.warn("closing export {} failed", name, e);
            }
        }
    }

    /** Threads per capture: twice the cores, so one thread's disk read overlaps another's hashing and compressing. */
    static int captureThreads() {
        return Integer.getInteger("cairn.captureThreads", 2 * Runtime.getRuntime().availableProcessors());
    }

    static InetSocketAddress address(String option, String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) throw new IllegalArgumentException(option + " must be HOST:PORT, got '" + hostPort + "'");
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " has a bad port in '" + hostPort + "'");
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException(option + " port out of range: " + port);
        return new InetSocketAddress(host, port);
    }

    static String hostPort(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    private static void closeQuietly(String what, AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.error("closing {} failed", what, e); // keep closing the rest: volumes must still be flushed
        }
    }
}
