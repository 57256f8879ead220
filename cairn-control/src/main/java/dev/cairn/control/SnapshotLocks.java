package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.SnapshotConflict;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Snapshot locks (deletion protection, like AWS's snapshot lock): a locked snapshot cannot be deleted —
 * not by its account, not by the admin, not by a deadline, a policy's retention or a disk's termination
 * — and its lock can be extended but never shortened, until the lock's date passes.
 *
 * <p><b>What it keeps true.</b> The catalog itself refuses to delete a snapshot row that has a lock row
 * (a foreign key without cascade), so a deletion path that forgot {@link #requireUnlocked} fails instead
 * of deleting. Deletion paths first drop the lock rows whose date has passed ({@link #clearExpired}).
 * Times are the service clock's.
 *
 * <p>Thread-safe; each call is one catalog transaction or runs in the caller's.
 */
public final class SnapshotLocks {
    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;

    SnapshotLocks(CloudControl control, Catalog catalog, InstantSource clock) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
    }

    /** ModifySnapshotLock: locks the caller's NORMAL snapshots until {@code until} (later than now), or extends their locks; all or nothing. */
    public void lock(Caller caller, List<String> snapshotIds, Instant until) {
        control.recorded(caller, "ModifySnapshotLock", () -> {
            CloudControl.requireIds(snapshotIds, "SnapshotIds", control.limits().idsPerDescribe());
            Instant now = clock.instant();
            if (!until.isAfter(now)) throw new InvalidValue("LockedUntil", InvalidValue.Reason.VALUE, "`LockedUntil` must be in the future");
            catalog.write(tx -> {
                clearExpired(tx, now);
                for (String id : snapshotIds) {
                    SnapshotService.requireSettled(SnapshotService.ownSnapshot(tx, caller, id));
                    Optional<Instant> held = lockedUntil(tx, id);
                    if (held.isPresent() && held.get().isAfter(until)) {
                        throw new SnapshotConflict(id, SnapshotConflict.Problem.LOCKED, "snapshot `" + id + "` is locked until " + held.get()
                                + "; a lock can be extended, never shortened");
                    }
                }
                for (String id : snapshotIds) {
                    if (tx.update("UPDATE snapshot_locks SET locked_until = ? WHERE snapshot_id = ?", until.toEpochMilli(), id) == 0) {
                        tx.update("INSERT INTO snapshot_locks (snapshot_id, locked_until, locked_at) VALUES (?, ?, ?)", id, until.toEpochMilli(),
                                now.toEpochMilli());
                    }
                }
                Rows.recordOps(tx, caller, "ModifySnapshotLock", snapshotIds, "SUCCESS", now.toEpochMilli(), "until " + until);
                return null;
            });
            return null;
        });
    }

    /** The lock dates of the caller's locked snapshots (DescribeSnapshots' IsLocked and LockedUntil). */
    public Map<String, Instant> of(Caller caller) {
        long now = clock.millis();
        return catalog.read(tx -> {
            Map<String, Instant> out = new LinkedHashMap<>();
            tx.query("SELECT l.snapshot_id, l.locked_until FROM snapshot_locks l JOIN snapshots s ON s.snapshot_id = l.snapshot_id "
                    + "WHERE s.account_id = ? AND l.locked_until > ?", rs -> out.put(rs.getString(1), Instant.ofEpochMilli(rs.getLong(2))),
                    caller.accountId(), now);
            return out;
        });
    }

    static Optional<Instant> lockedUntil(Catalog.Tx tx, String snapshotId) throws SQLException {
        return tx.first("SELECT locked_until FROM snapshot_locks WHERE snapshot_id = ?", rs -> Instant.ofEpochMilli(rs.getLong(1)), snapshotId);
    }

    /** Removes lock rows whose date has passed (their snapshots may be deleted again). */
    static void clearExpired(Catalog.Tx tx, Instant now) throws SQLException {
        tx.update("DELETE FROM snapshot_locks WHERE locked_until <= ?", now.toEpochMilli());
    }

    /** Refuses, in the caller's transaction, if one of the snapshots is locked now. */
    static void requireUnlocked(Catalog.Tx tx, Collection<String> snapshotIds, Instant now) throws SQLException {
        clearExpired(tx, now);
        for (String id : snapshotIds) {
            Optional<Instant> until = lockedUntil(tx, id);
            if (until.isPresent()) {
                throw new SnapshotConflict(id, SnapshotConflict.Problem.LOCKED, "snapshot `" + id + "` is locked until " + until.get()
                        + "; nobody can delete it before then");
            }
        }
    }

    /** SQL condition (alias {@code s}): the snapshot has no lock — after {@link #clearExpired}, none that holds now. */
    static final String NOT_LOCKED = "NOT EXISTS (SELECT 1 FROM snapshot_locks l WHERE l.snapshot_id = s.snapshot_id)";
}
