package dev.cairn.cli;

import dev.cairn.api.ApiServer;
import dev.cairn.control.Accounts;
import dev.cairn.control.Catalog;
import dev.cairn.control.CloudControl;
import dev.cairn.control.Limits;
import dev.cairn.control.Region;
import dev.cairn.control.TestClock;
import dev.cairn.nbd.Export;
import dev.cairn.nbd.ExportInfo;
import dev.cairn.nbd.ExportRegistry;
import dev.cairn.nbd.NbdMetrics;
import dev.cairn.nbd.NbdServer;
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
 * {@code cairn serve}: builds the object graph by hand (catalog → volumes → control → API and NBD
 * listeners), writes the admin credentials on first start, prints the ready line once both listeners
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

    @Override
    public Integer call() throws Exception {
        Path dataDir = data.toAbsolutePath().normalize();
        Files.createDirectories(dataDir);
        InstantSource clock = testClock ? new TestClock(java.time.Instant.now()) : InstantSource.system();
        PrometheusRegistry metrics = new PrometheusRegistry();
        JvmMetrics.builder().register(metrics);

        Catalog catalog = Catalog.open(dataDir, catalogUrl);
        VolumeManager volumes = new VolumeManager(dataDir.resolve("volumes"));
        CloudControl control = new CloudControl(catalog, volumes, Region.of(region), Limits.defaults(), clock);
        NbdServer nbd = new NbdServer(address("--nbd-listen", nbdListen), new DiskExports(control), new NbdMetrics(metrics));
        control.setExportRevoked(nbd::disconnect);
        ApiServer api = new ApiServer(address("--api-listen", apiListen), control, metrics);

        // SIGTERM/SIGINT ask for an orderly stop on the main thread, which then exits 0 (a JVM killed by the
        // default handler would exit 143 after running hooks in no particular order).
        CountDownLatch stopRequested = new CountDownLatch(1);
        for (String signal : List.of("TERM", "INT")) {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> stopRequested.countDown());
        }
        nbd.start();
        api.start();
        String endpoint = "http://" + hostPort(api.address());
        Path credentialsFile = dataDir.resolve("credentials.json");
        Accounts.Credentials admin = control.accounts().bootstrapAdmin();
        new Credentials(String.valueOf(admin.accountId()), admin.secretId(), admin.secretKey(), region, endpoint)
                .write(credentialsFile, Main.JSON);
        System.out.println("credentials: " + credentialsFile + " (account " + admin.accountId() + ")");
        System.out.println("cairn ready api=" + endpoint + " nbd=nbd://" + hostPort(nbd.address()));
        System.out.flush();
        log.info("ready api={} nbd={} data={} catalog={} clock={}", endpoint, hostPort(nbd.address()), dataDir, catalog, testClock ? "test" : "system");
        stopRequested.await();
        log.info("stopping");
        closeQuietly("api", api);
        closeQuietly("nbd", nbd);
        closeQuietly("control", control);
        closeQuietly("volumes", volumes); // flushes every open volume
        closeQuietly("catalog", catalog);
        log.info("stopped");
        return 0;
    }

    /** Serves a disk while the control plane says it is attached to a running instance. */
    private record DiskExports(CloudControl control) implements ExportRegistry {
        @Override
        public Optional<Export> open(String name) throws IOException {
            return control.openExport(name).map(volume -> new DiskExport(name, volume));
        }

        @Override
        public List<ExportInfo> list() {
            return control.exportedDiskIds().stream().map(id -> new ExportInfo(id, "cloud disk " + id)).toList();
        }
    }

    private record DiskExport(String name, Volume volume) implements Export {
        @Override
        public String description() {
            return "cloud disk " + name;
        }

        @Override
        public void close() {
            try {
                volume.close();
            } catch (IOException e) {
                log.warn("closing export {} failed", name, e);
            }
        }
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
