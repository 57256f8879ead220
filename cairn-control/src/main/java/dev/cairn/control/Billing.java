package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.SnapshotsUnavailable;
import dev.cairn.control.ControlException.Unauthorized;
import dev.cairn.repository.Cancellation;
import dev.cairn.repository.ManifestId;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.YearMonth;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Billing for stored snapshot data (DESIGN §6): a price per GiB-month, metered hourly.
 *
 * <p><b>The rule.</b> Every stored object (chunk, page, manifest root) is charged once, to the
 * <em>oldest</em> snapshot that uses it (by creation time, then id), whatever its account; when that
 * snapshot is deleted, the object passes to the next oldest one that uses it. So a snapshot pays for
 * what it added when it was taken, plus what it inherits as older snapshots go; a chunk shared by
 * many snapshots (or accounts, through sharing) is billed once. Snapshots in the recycle bin are still
 * billed. Data kept only as a disk's parent for its next incremental snapshot is not billed.
 *
 * <p><b>The meter.</b> Each hour of the service clock is metered once, at its end, from the state then
 * ({@link #meterThrough}); a GiB-month is 730 GiB-hours, so an hour costs {@code GiB × price / 730}.
 * The scheduler meters as time passes (under the test clock it stops at every hour boundary). Hours
 * before the first meter of a catalog are not billed.
 *
 * <p>Thread-safe; metering is serialized in this process and made once-only across nodes by the
 * {@code metered_hours} key.
 */
public final class Billing {
    private static final Logger log = LoggerFactory.getLogger(Billing.class);
    static final double HOURS_PER_MONTH = 730;
    static final double GIB = 1L << 30;

    /** Price per GiB-month of stored snapshot data, its currency, and the free GiB per account. */
    public record Prices(double perGibMonth, String currency, double freeGib) {
        public Prices {
            if (perGibMonth < 0 || freeGib < 0) throw new IllegalArgumentException("prices must not be negative");
        }

        /** Tencent's commonly cited mainland price (reference §6, unconfirmed), no free tier. */
        public static Prices defaults() {
            return new Prices(0.12, "CNY", 0);
        }
    }

    /** One snapshot's line of a month's report. */
    public record SnapshotLine(String snapshotId, String diskId, double gibHours, double cost) {}

    /** One account's month. */
    public record AccountReport(long accountId, double gibHours, double cost, List<SnapshotLine> snapshots) {}

    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;
    private final Prices prices;
    private final java.util.concurrent.atomic.LongAdder metered = new java.util.concurrent.atomic.LongAdder();

    Billing(CloudControl control, Catalog catalog, InstantSource clock, Prices prices) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
        this.prices = prices;
    }

    public Prices prices() {
        return prices;
    }

    /** Hours this node has metered since it started (for /metrics). */
    public long hoursMetered() {
        return metered.sum();
    }

    /** The start of the next hour that has not been metered and has ended by {@code now}, or null. */
    Instant nextHourToMeter(Instant now) {
        long last = catalog.read(tx -> tx.count("SELECT COALESCE(MAX(hour_start), -1) FROM metered_hours"));
        Instant hour = last < 0 ? now.truncatedTo(ChronoUnit.HOURS).minus(Duration.ofHours(1)) : Instant.ofEpochMilli(last).plus(Duration.ofHours(1));
        return hour.plus(Duration.ofHours(1)).isAfter(now) ? null : hour;
    }

    /** Meters every hour that has ended by now and is not metered yet (from the current state). Returns how many. */
    synchronized int meterThrough() {
        if (!control.snapshots().available()) return 0;
        int n = 0;
        for (Instant hour = nextHourToMeter(clock.instant()); hour != null; hour = nextHourToMeter(clock.instant())) {
            meter(hour);
            n++;
        }
        return n;
    }

    private void meter(Instant hour) {
        record Row(String snapshotId, long accountId, String diskId, String manifest) {}
        List<Row> rows = catalog.read(tx -> tx.query("SELECT snapshot_id, account_id, disk_id, manifest_id FROM snapshots "
                + "WHERE manifest_id IS NOT NULL ORDER BY created_at, snapshot_id", rs -> new Row(rs.getString(1), rs.getLong(2), rs.getString(3),
                rs.getString(4))));
        Map<ManifestId, Long> owned;
        try {
            owned = control.snapshots().engine().repository().spaceAccounting()
                    .ownedBytes(rows.stream().map(r -> ManifestId.parse(r.manifest())).toList(), Cancellation.none());
        } catch (IOException e) {
            throw new SnapshotsUnavailable("metering failed reading the repository: " + e.getMessage());
        }
        long start = hour.toEpochMilli();
        boolean done = catalog.write(tx -> {
            if (tx.count("SELECT COUNT(*) FROM metered_hours WHERE hour_start = ?", start) > 0) return false; // another node did it
            tx.update("INSERT INTO metered_hours (hour_start, metered_at) VALUES (?, ?)", start, clock.millis());
            java.util.Set<String> billed = new java.util.HashSet<>();
            for (Row r : rows) {
                if (!billed.add(r.manifest())) continue; // two rows naming one manifest: the older pays
                long bytes = owned.getOrDefault(ManifestId.parse(r.manifest()), 0L);
                tx.update("INSERT INTO snapshot_usage (hour_start, snapshot_id, account_id, disk_id, billed_bytes) VALUES (?, ?, ?, ?, ?)",
                        start, r.snapshotId(), r.accountId(), r.diskId(), bytes);
            }
            return true;
        });
        if (done) {
            metered.increment();
            log.debug("metered hour={} snapshots={}", hour, rows.size());
        }
    }

    /** What each of the caller's snapshots would be billed for now (the overview's TotalSize, in bytes). */
    public long billedBytesNow(Caller caller) {
        List<String[]> rows = catalog.read(tx -> tx.query("SELECT manifest_id, account_id FROM snapshots WHERE manifest_id IS NOT NULL "
                + "ORDER BY created_at, snapshot_id", rs -> new String[] {rs.getString(1), Long.toString(rs.getLong(2))}));
        if (rows.isEmpty() || !control.snapshots().available()) return 0;
        try {
            Map<ManifestId, Long> owned = control.snapshots().engine().repository().spaceAccounting()
                    .ownedBytes(rows.stream().map(r -> ManifestId.parse(r[0])).toList(), Cancellation.none());
            long sum = 0;
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (String[] r : rows) {
                if (seen.add(r[0]) && Long.parseLong(r[1]) == caller.accountId()) sum += owned.getOrDefault(ManifestId.parse(r[0]), 0L);
            }
            return sum;
        } catch (IOException e) {
            throw new SnapshotsUnavailable("reading the repository failed: " + e.getMessage());
        }
    }

    /** A month's bill (in the region's time zone): every account for the admin, else the caller's. */
    public List<AccountReport> report(Caller caller, YearMonth month, Long accountId) {
        if (accountId != null && accountId != caller.accountId() && !caller.admin()) {
            throw new Unauthorized("only the admin account may see another account's bill");
        }
        if (month == null) throw new InvalidValue("Month", InvalidValue.Reason.VALUE, "`Month` is required (YYYY-MM)");
        long from = month.atDay(1).atStartOfDay(control.region().timeZone()).toInstant().toEpochMilli();
        long to = month.plusMonths(1).atDay(1).atStartOfDay(control.region().timeZone()).toInstant().toEpochMilli();
        Long only = accountId != null ? accountId : caller.admin() ? null : Long.valueOf(caller.accountId());
        record Usage(long account, String snapshot, String disk, long byteHours) {}
        List<Usage> usage = catalog.read(tx -> tx.query("SELECT account_id, snapshot_id, disk_id, SUM(billed_bytes) FROM snapshot_usage "
                + "WHERE hour_start >= ? AND hour_start < ? AND (? OR account_id = ?) GROUP BY account_id, snapshot_id, disk_id "
                + "ORDER BY account_id, snapshot_id", rs -> new Usage(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getLong(4)),
                from, to, only == null, only == null ? 0L : only));
        Map<Long, List<SnapshotLine>> lines = new LinkedHashMap<>();
        for (Usage u : usage) {
            double gibHours = u.byteHours() / GIB;
            lines.computeIfAbsent(u.account(), k -> new ArrayList<>()).add(new SnapshotLine(u.snapshot(), u.disk(), gibHours, cost(gibHours)));
        }
        List<AccountReport> out = new ArrayList<>();
        lines.forEach((account, ls) -> {
            double gibHours = ls.stream().mapToDouble(SnapshotLine::gibHours).sum();
            out.add(new AccountReport(account, gibHours, cost(gibHours), ls));
        });
        return out;
    }

    double cost(double gibHours) {
        return gibHours * prices.perGibMonth() / HOURS_PER_MONTH;
    }
}
