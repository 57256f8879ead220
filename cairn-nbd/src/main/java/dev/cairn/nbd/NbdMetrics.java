package dev.cairn.nbd;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The NBD server's Prometheus metrics:
 * <ul>
 *   <li>{@code cairn_nbd_requests_total{command,result}} — requests by command ({@code read}, {@code write},
 *       …) and result ({@code ok} or the NBD error, e.g. {@code EINVAL}), refused ones included;</li>
 *   <li>{@code cairn_nbd_read_bytes_total}, {@code cairn_nbd_written_bytes_total} — payload bytes of
 *       successful READs and WRITEs;</li>
 *   <li>{@code cairn_nbd_request_duration_seconds{command}} — from the request header being read to the
 *       reply being written;</li>
 *   <li>{@code cairn_nbd_connections} — connections currently open (any state);</li>
 *   <li>{@code cairn_nbd_handshakes_total{result}} — {@code ok}, {@code aborted} (NBD_OPT_ABORT, e.g. after
 *       a listing), {@code rejected} (protocol violation, unknown export on EXPORT_NAME, too many options),
 *       {@code failed} (client vanished or timed out mid-handshake), {@code shutdown}.</li>
 * </ul>
 *
 * <p><b>Threads.</b> Thread-safe. The per-request path does no map lookups: label data points are
 * resolved once and cached in arrays indexed by command and result.
 *
 * <p>Registering twice on one registry fails (Prometheus names are unique): one instance per registry.
 */
public final class NbdMetrics {
    private static final int[] RESULT_CODES = {0, Nbd.EPERM, Nbd.EIO, Nbd.ENOMEM, Nbd.EINVAL, Nbd.ENOSPC, Nbd.EOVERFLOW,
            Nbd.ENOTSUP, Nbd.ESHUTDOWN};
    private static final int COMMANDS = Nbd.CMD_COUNT + 1; // + "unknown"
    private static final int RESULTS = RESULT_CODES.length + 1; // + "other"

    private final Counter requests;
    private final Counter readBytes;
    private final Counter writtenBytes;
    private final Histogram duration;
    private final Gauge connections;
    private final Counter handshakes;
    private final AtomicReferenceArray<CounterDataPoint> requestPoints = new AtomicReferenceArray<>(COMMANDS * RESULTS);
    private final AtomicReferenceArray<DistributionDataPoint> durationPoints = new AtomicReferenceArray<>(COMMANDS);

    public NbdMetrics(PrometheusRegistry registry) {
        requests = Counter.builder().name("cairn_nbd_requests_total")
                .help("NBD requests by command and result (ok or the NBD error sent)")
                .labelNames("command", "result").withoutExemplars().register(registry);
        readBytes = Counter.builder().name("cairn_nbd_read_bytes_total").help("Bytes sent for successful NBD reads")
                .withoutExemplars().register(registry);
        writtenBytes = Counter.builder().name("cairn_nbd_written_bytes_total").help("Bytes received in successful NBD writes")
                .withoutExemplars().register(registry);
        duration = Histogram.builder().name("cairn_nbd_request_duration_seconds")
                .help("NBD request latency, header read to reply written")
                .labelNames("command")
                .classicOnly()
                .withoutExemplars() // exemplar sampling schedules a timer task per observation: too costly per request
                .classicUpperBounds(25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
                        100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10)
                .register(registry);
        connections = Gauge.builder().name("cairn_nbd_connections").help("NBD connections currently open").register(registry);
        handshakes = Counter.builder().name("cairn_nbd_handshakes_total")
                .help("NBD handshakes by result: ok, aborted, rejected, failed, shutdown")
                .labelNames("result").register(registry);
    }

    /** Connections currently open. */
    public long connections() {
        return (long) connections.get();
    }

    /** Requests counted so far for a command label ({@code read}, …) and result label ({@code ok}, {@code EINVAL}, …). */
    public long requests(String command, String result) {
        return requests.labelValues(command, result).getLongValue();
    }

    /** Handshakes counted so far with the given result label. */
    public long handshakes(String result) {
        return handshakes.labelValues(result).getLongValue();
    }

    void connectionOpened() {
        connections.inc();
    }

    void connectionClosed() {
        connections.dec();
    }

    void handshake(String result) {
        handshakes.labelValues(result).inc();
    }

    void request(int command, int error, long nanos, long bytesRead, long bytesWritten) {
        int c = command >= 0 && command < Nbd.CMD_COUNT ? command : Nbd.CMD_COUNT;
        int r = resultIndex(error);
        int i = c * RESULTS + r;
        CounterDataPoint point = requestPoints.get(i);
        if (point == null) {
            point = requests.labelValues(Nbd.cmdLabel(command), r < RESULT_CODES.length ? resultLabel(RESULT_CODES[r]) : "other");
            requestPoints.set(i, point); // racing threads store the same data point
        }
        point.inc();
        DistributionDataPoint d = durationPoints.get(c);
        if (d == null) {
            d = duration.labelValues(Nbd.cmdLabel(command));
            durationPoints.set(c, d);
        }
        d.observe(nanos / 1e9);
        if (bytesRead > 0) readBytes.inc(bytesRead);
        if (bytesWritten > 0) writtenBytes.inc(bytesWritten);
    }

    private static int resultIndex(int error) {
        for (int i = 0; i < RESULT_CODES.length; i++) {
            if (RESULT_CODES[i] == error) return i;
        }
        return RESULT_CODES.length;
    }

    private static String resultLabel(int error) {
        return error == 0 ? "ok" : Nbd.errName(error);
    }
}
