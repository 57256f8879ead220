package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.QuotaExceeded;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.control.ControlException.SnapshotConflict;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Snapshots shared with other accounts (Tencent's ModifySnapshotsSharePermission): the other account
 * sees a shared snapshot ({@code SHARED_SNAPSHOT}) and may create disks from it — nothing else; every
 * other action on it answers not-found, as for any snapshot that is not its own.
 *
 * <p><b>What it keeps true.</b> Only the owner shares or revokes, NORMAL data-disk snapshots only, at
 * most {@link #MAX_ACCOUNTS} accounts each, all or nothing. Revoking stops new use at once; disks
 * already made from the snapshot keep working: they name its manifest as their base, which keeps it in
 * the repository even after the owner deletes the snapshot ({@link SnapshotService#release}).
 *
 * <p>Thread-safe; each call is one catalog transaction.
 */
public final class SnapshotShares {
    static final int MAX_ACCOUNTS = 50;

    /** One account a snapshot is shared with, and since when. */
    public record Share(long accountId, Instant since) {}

    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;

    SnapshotShares(CloudControl control, Catalog catalog, InstantSource clock) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
    }

    /** ModifySnapshotsSharePermission: {@code share} true shares with the accounts, false revokes. */
    public void modify(Caller caller, List<String> snapshotIds, List<Long> accountIds, boolean share) {
        control.recorded(caller, "ModifySnapshotsSharePermission", () -> {
            CloudControl.requireIds(snapshotIds, "SnapshotIds", control.limits().idsPerDescribe());
            if (accountIds.isEmpty()) throw new InvalidValue("AccountIds", InvalidValue.Reason.VALUE, "`AccountIds` is empty");
            if (new LinkedHashSet<>(accountIds).size() != accountIds.size()) {
                throw new InvalidValue("AccountIds", InvalidValue.Reason.DUPLICATE, "`AccountIds` lists an account twice");
            }
            long now = clock.millis();
            catalog.write(tx -> {
                for (long account : accountIds) {
                    if (account == caller.accountId()) {
                        throw new InvalidValue("AccountIds", InvalidValue.Reason.CONFLICT, "a snapshot cannot be shared with its own account");
                    }
                    if (tx.count("SELECT COUNT(*) FROM accounts WHERE account_id = ?", account) == 0) {
                        throw new NotFound(ResourceKind.ACCOUNT, Long.toString(account));
                    }
                }
                for (String id : snapshotIds) {
                    Snapshot s = SnapshotService.ownSnapshot(tx, caller, id);
                    if (!share) continue;
                    SnapshotService.requireSettled(s);
                    if (s.diskUsage() == DiskUsage.SYSTEM_DISK) {
                        throw new SnapshotConflict(id, SnapshotConflict.Problem.NOT_SHAREABLE, "snapshot `" + id
                                + "` is of a system disk; only data-disk snapshots can be shared (share an image instead)");
                    }
                    LinkedHashSet<Long> after = new LinkedHashSet<>(tx.query("SELECT account_id FROM snapshot_shares WHERE snapshot_id = ?",
                            rs -> rs.getLong(1), id));
                    after.addAll(accountIds);
                    if (after.size() > MAX_ACCOUNTS) {
                        throw new QuotaExceeded(QuotaExceeded.Quota.SHARES_PER_SNAPSHOT, "snapshot `" + id + "` would be shared with "
                                + after.size() + " accounts; at most " + MAX_ACCOUNTS);
                    }
                }
                for (String id : snapshotIds) {
                    for (long account : accountIds) {
                        tx.update("DELETE FROM snapshot_shares WHERE snapshot_id = ? AND account_id = ?", id, account);
                        if (share) tx.update("INSERT INTO snapshot_shares (snapshot_id, account_id, created_at) VALUES (?, ?, ?)", id, account, now);
                    }
                }
                Rows.recordOps(tx, caller, "ModifySnapshotsSharePermission", snapshotIds, "SUCCESS", now,
                        (share ? "SHARE " : "CANCEL ") + accountIds);
                return null;
            });
            return null;
        });
    }

    /** DescribeSnapshotSharePermission: who the caller's snapshot is shared with, oldest first. */
    public List<Share> of(Caller caller, String snapshotId) {
        return catalog.read(tx -> {
            SnapshotService.ownSnapshot(tx, caller, snapshotId);
            return tx.query("SELECT account_id, created_at FROM snapshot_shares WHERE snapshot_id = ? ORDER BY created_at, account_id",
                    rs -> new Share(rs.getLong(1), Instant.ofEpochMilli(rs.getLong(2))), snapshotId);
        });
    }

    /** For the caller's own snapshots that are shared: how many accounts, and since when (the first share). */
    public record Summary(int accounts, Instant since) {}

    public Map<String, Summary> summaries(Caller caller) {
        return catalog.read(tx -> {
            Map<String, Summary> out = new LinkedHashMap<>();
            tx.query("""
                    SELECT sh.snapshot_id, COUNT(*), MIN(sh.created_at) FROM snapshot_shares sh JOIN snapshots s ON s.snapshot_id = sh.snapshot_id
                    WHERE s.account_id = ? GROUP BY sh.snapshot_id""",
                    rs -> out.put(rs.getString(1), new Summary(rs.getInt(2), Instant.ofEpochMilli(rs.getLong(3)))), caller.accountId());
            return out;
        });
    }

    /** A snapshot the caller may create disks from: its own, or one shared with it; else not-found. */
    static Snapshot usable(Catalog.Tx tx, Caller caller, String snapshotId) throws SQLException {
        return tx.first("SELECT " + SnapshotService.columns("s") + " FROM snapshots s WHERE s.snapshot_id = ? AND (s.account_id = ? OR EXISTS "
                        + "(SELECT 1 FROM snapshot_shares sh WHERE sh.snapshot_id = s.snapshot_id AND sh.account_id = ?))",
                SnapshotService::snapshot, snapshotId, caller.accountId(), caller.accountId())
                .orElseThrow(() -> new NotFound(ResourceKind.SNAPSHOT, snapshotId));
    }
}
