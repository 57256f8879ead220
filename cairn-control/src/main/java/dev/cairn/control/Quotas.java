package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.QuotaExceeded;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.control.ControlException.Unauthorized;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-account quotas: Tencent's defaults (from {@link Limits}), changed per account by an admin.
 *
 * <p><b>What it keeps true.</b> A create that a quota limits checks the count and inserts in one
 * catalog transaction ({@link #require}), and write transactions are serializable (one writer on
 * SQLite; SSI on PostgreSQL, where two creates racing for the last slot conflict and the loser runs
 * again and sees the slot taken) — so no number of concurrent creates can pass a quota together.
 *
 * <p>Thread-safe.
 */
public final class Quotas {
    /** A quota's API name, what it counts, and its default. {@code -1} means no limit. */
    public enum Quota {
        SNAPSHOTS_PER_DISK("snapshots-per-disk", "snapshots", "snapshots of one disk (not those in the recycle bin)"),
        SNAPSHOTS_PER_REGION("snapshots-per-region", "snapshots", "snapshots of the account in the region (not those in the recycle bin)"),
        AUTO_SNAPSHOT_POLICIES("auto-snapshot-policies", "auto-snapshot policies", "auto-snapshot policies of the account"),
        INSTANCES("instances", "instances", "instances of the account");

        private final String wireName;
        private final String noun;
        private final String counts;

        Quota(String wireName, String noun, String counts) {
            this.wireName = wireName;
            this.noun = noun;
            this.counts = counts;
        }

        public String wireName() {
            return wireName;
        }

        public String counts() {
            return counts;
        }

        public static Quota named(String name) {
            return Arrays.stream(values()).filter(q -> q.wireName.equals(name)).findFirst().orElseThrow(() -> new InvalidValue("Name",
                    InvalidValue.Reason.VALUE, "no quota named `" + name + "`; quotas: "
                    + Arrays.stream(values()).map(Quota::wireName).toList()));
        }
    }

    /** One quota of one account: its limit ({@code -1}: none), how much is used, and whether an admin set it. */
    public record Usage(Quota quota, long limit, long used, boolean custom) {}

    private final Catalog catalog;
    private final Limits limits;
    private final java.time.InstantSource clock;

    Quotas(Catalog catalog, Limits limits, java.time.InstantSource clock) {
        this.catalog = catalog;
        this.limits = limits;
        this.clock = clock;
    }

    long defaultOf(Quota q) {
        return switch (q) {
            case SNAPSHOTS_PER_DISK -> limits.snapshotsPerDisk();
            case SNAPSHOTS_PER_REGION -> limits.snapshotsPerRegion();
            case AUTO_SNAPSHOT_POLICIES -> limits.policiesPerAccount();
            case INSTANCES -> limits.instancesPerAccount();
        };
    }

    /** The account's limit for {@code q} in the caller's transaction. */
    long limit(Catalog.Tx tx, long accountId, Quota q) throws SQLException {
        return tx.first("SELECT max_value FROM account_quotas WHERE account_id = ? AND name = ?", rs -> rs.getLong(1), accountId, q.wireName())
                .orElse(defaultOf(q));
    }

    /**
     * Refuses, in the caller's transaction, {@code more} new items when {@code used + more} would pass the
     * account's limit. {@code scope} names what is counted in the message (e.g. the disk).
     */
    void require(Catalog.Tx tx, long accountId, Quota q, long used, long more, String scope) throws SQLException {
        long max = limit(tx, accountId, q);
        if (max >= 0 && used + more > max) {
            throw new QuotaExceeded(switch (q) {
                case SNAPSHOTS_PER_DISK -> QuotaExceeded.Quota.SNAPSHOTS_PER_DISK;
                case SNAPSHOTS_PER_REGION -> QuotaExceeded.Quota.SNAPSHOTS_PER_REGION;
                case AUTO_SNAPSHOT_POLICIES -> QuotaExceeded.Quota.POLICIES_PER_ACCOUNT;
                case INSTANCES -> QuotaExceeded.Quota.INSTANCES_PER_ACCOUNT;
            }, scope + " has " + used + " " + q.noun + "; " + (more == 1 ? "one" : more) + " more would pass its quota of " + max
                    + " (" + q.wireName() + ")");
        }
    }

    /** Refuses, in the caller's transaction, one more snapshot of {@code diskId} past the per-disk quota. */
    void requireDiskSnapshot(Catalog.Tx tx, long accountId, String diskId) throws SQLException {
        require(tx, accountId, Quota.SNAPSHOTS_PER_DISK, tx.count("SELECT COUNT(*) FROM snapshots WHERE disk_id = ? AND state <> ?", diskId,
                SnapshotState.TORECYCLE), 1, "disk `" + diskId + "`"); // deleted ones waiting in the recycle bin free their slot
    }

    /** Refuses, in the caller's transaction, {@code more} new snapshots of the account past its per-region quota. */
    void requireRegionSnapshots(Catalog.Tx tx, long accountId, long more) throws SQLException {
        require(tx, accountId, Quota.SNAPSHOTS_PER_REGION, used(tx, accountId, Quota.SNAPSHOTS_PER_REGION), more, "the account");
    }

    private static long used(Catalog.Tx tx, long accountId, Quota q) throws SQLException {
        return switch (q) {
            case SNAPSHOTS_PER_DISK -> tx.count("SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM snapshots WHERE account_id = ? "
                    + "AND state <> ? GROUP BY disk_id) per_disk", accountId, SnapshotState.TORECYCLE); // the fullest disk
            case SNAPSHOTS_PER_REGION -> tx.count("SELECT COUNT(*) FROM snapshots WHERE account_id = ? AND state <> ?", accountId,
                    SnapshotState.TORECYCLE); // the recycle bin's do not count
            case AUTO_SNAPSHOT_POLICIES -> tx.count("SELECT COUNT(*) FROM auto_snapshot_policies WHERE account_id = ?", accountId);
            case INSTANCES -> tx.count("SELECT COUNT(*) FROM instances WHERE account_id = ?", accountId);
        };
    }

    /** An account's quotas with what it uses (for snapshots per disk: its fullest disk). Admins may ask about any account. */
    public List<Usage> describe(Caller caller, long accountId) {
        if (accountId != caller.accountId() && !caller.admin()) throw new Unauthorized("only the admin account may see another account's quotas");
        return catalog.read(tx -> {
            requireAccount(tx, accountId);
            List<Usage> out = new ArrayList<>();
            for (Quota q : Quota.values()) {
                boolean custom = tx.count("SELECT COUNT(*) FROM account_quotas WHERE account_id = ? AND name = ?", accountId, q.wireName()) > 0;
                out.add(new Usage(q, limit(tx, accountId, q), used(tx, accountId, q), custom));
            }
            return out;
        });
    }

    /** Admin only: sets an account's limit ({@code -1}: none; {@code null}: back to the default). Lowering below use is allowed: new creates are refused. */
    public void modify(Caller caller, long accountId, Quota q, Long max) {
        if (!caller.admin()) throw new Unauthorized("only the admin account may change quotas");
        if (max != null && max < -1) throw new InvalidValue("Limit", InvalidValue.Reason.VALUE, "`Limit` must be -1 (no limit) or more, got " + max);
        catalog.write(tx -> {
            requireAccount(tx, accountId);
            tx.update("DELETE FROM account_quotas WHERE account_id = ? AND name = ?", accountId, q.wireName());
            if (max != null) tx.update("INSERT INTO account_quotas (account_id, name, max_value) VALUES (?, ?, ?)", accountId, q.wireName(), max);
            Rows.recordOps(tx, caller, "ModifyAccountQuota", List.of(Long.toString(accountId)), "SUCCESS", clock.millis(),
                    q.wireName() + "=" + (max == null ? "default" : max));
            return null;
        });
    }

    private static void requireAccount(Catalog.Tx tx, long accountId) throws SQLException {
        if (tx.count("SELECT COUNT(*) FROM accounts WHERE account_id = ?", accountId) == 0) {
            throw new NotFound(ResourceKind.ACCOUNT, Long.toString(accountId));
        }
    }
}
