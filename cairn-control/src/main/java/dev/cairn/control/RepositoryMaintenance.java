package dev.cairn.control;

import dev.cairn.control.ControlException.SnapshotsUnavailable;
import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestInfo;
import dev.cairn.repository.Repository;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The snapshot repository's upkeep, for the admin account: garbage collection (orphan manifest roots,
 * then mark, grace and sweep of chunks), verification, figures, and rebuilding snapshot rows from the
 * repository after the catalog was lost. Everything else in the service keeps the repository and the
 * catalog consistent as it goes; this is the sweep behind it.
 */
public final class RepositoryMaintenance {
    private static final Logger log = LoggerFactory.getLogger(RepositoryMaintenance.class);

    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;
    private final SnapshotService snapshots;

    RepositoryMaintenance(CloudControl control, Catalog catalog, InstantSource clock, SnapshotService snapshots) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
        this.snapshots = snapshots;
    }

    /** Result of {@link #collectGarbage}. */
    public record GcReport(int orphanManifestsDeleted, long chunksDeleted, long bytesDeleted, long keptYoung) {}

    /**
     * Removes manifest roots nothing names and older than {@code grace} (a capture commits its root
     * just before the catalog names it, so a young unnamed root may be in flight), then sweeps chunks and pages no manifest references (mark, grace, sweep).
     */
    public GcReport collectGarbage(Caller caller, Duration grace) {
        requireAdmin(caller);
        Repository repo = snapshots.engine().repository();
        try {
            Set<ManifestId> live = snapshots.liveManifests();
            Instant cutoff = Instant.now().minus(grace); // manifests are stamped by the repository's real clock, not the service's

            int orphans = 0;
            for (ManifestId m : repo.listManifests()) {
                if (live.contains(m)) continue;
                ManifestInfo info = repo.openManifest(m).info();
                if (info.created().isAfter(cutoff)) continue;
                repo.deleteManifest(m);
                orphans++;
            }
            markDeletedSnapshots(repo);
            var gc = repo.garbageCollector(grace);
            try (var plan = gc.plan(snapshots.liveManifests())) {
                var result = gc.execute(plan);
                return new GcReport(orphans, result.deletedChunks(), result.deletedBytes(), result.keptYoung());
            }
        } catch (IOException e) {
            throw new SnapshotsUnavailable("repository gc failed: " + e.getMessage());
        }
    }

    /**
     * Brings the repository's deletion markers in line with the catalog (what {@code release} does as
     * snapshots go, redone here after a crash in between): a root only disks name gets one, a marker
     * whose root is gone is dropped.
     */
    private void markDeletedSnapshots(Repository repo) throws IOException {
        Set<ManifestId> marked = repo.deletedSnapshotManifests();
        for (ManifestId m : snapshots.manifestNames().disksOnly()) {
            if (!marked.contains(m)) repo.markSnapshotDeleted(m);
        }
        Set<ManifestId> present = new java.util.HashSet<>(repo.listManifests());
        for (ManifestId m : marked) {
            if (!present.contains(m)) repo.dropDeletionMarker(m);
        }
    }

    /** Verifies a fraction (0 < f ≤ 1) of the repository's chunks; every manifest and page always. */
    public dev.cairn.repository.VerifyReport verify(Caller caller, double fraction) {
        requireAdmin(caller);
        try {
            return snapshots.engine().repository().verify(fraction);
        } catch (IOException e) {
            throw new SnapshotsUnavailable("repository verify failed: " + e.getMessage());
        }
    }

    /** Repository-wide figures for {@code cairn repo stats}. */
    public record RepoStats(int manifests, int liveManifests, long snapshots, long storedBytes, int blockSize) {}

    public RepoStats stats(Caller caller) {
        requireAdmin(caller);
        Repository repo = snapshots.engine().repository();
        try {
            Set<ManifestId> live = snapshots.liveManifests();
            long snapshots = catalog.read(tx -> tx.count("SELECT COUNT(*) FROM snapshots"));
            return new RepoStats(repo.listManifests().size(), live.size(), snapshots, repo.spaceAccounting().storedBytes(live), repo.blockSize());
        } catch (IOException e) {
            throw new SnapshotsUnavailable("reading the repository failed: " + e.getMessage());
        }
    }

    /** What {@link #rebuildCatalog} restored: snapshot ids, and accounts the catalog had lost (with new keys). */
    public record Rebuilt(List<String> snapshotIds, List<Accounts.Credentials> accounts) {}

    /** One snapshot row restored, and the account re-created for it, if any. */
    private record Restored(Accounts.Credentials account) {}

    /**
     * Re-creates snapshot rows from the repository's manifests (their metadata names snapshot, account,
     * disk, name, zone, usage, group and time) for every snapshot the catalog lacks and the repository
     * does not mark deleted — after the catalog was lost or restored from an old backup. An account
     * the catalog lacks comes back under its number with a new key (returned), a snapshot group as
     * its members' name without the {@code _<n>} suffix. Not in the repository, so not restored:
     * deadlines (restored snapshots are permanent), snapshot locks, policies.
     */
    public Rebuilt rebuildCatalog(Caller caller) {
        requireAdmin(caller);
        Repository repo = snapshots.engine().repository();
        List<String> restored = new ArrayList<>();
        List<Accounts.Credentials> accounts = new ArrayList<>();
        try {
            Set<ManifestId> deleted = repo.deletedSnapshotManifests(); // roots kept as a disk's parent or base, not snapshots
            for (ManifestId m : repo.listManifests()) {
                if (deleted.contains(m)) continue;
                ManifestInfo info = repo.openManifest(m).info();
                Map<String, String> meta = info.metadata();
                String id = meta.get("snapshot");
                if (id == null || meta.get("account") == null) continue;
                long account = Long.parseLong(meta.get("account"));
                Restored r = catalog.write(tx -> { // no side effects in here: PostgreSQL may run it again
                    if (tx.count("SELECT COUNT(*) FROM snapshots WHERE snapshot_id = ?", id) > 0) return null;
                    Accounts.Credentials back = control.accounts().restoreAccount(tx, account);
                    long created = Instant.parse(meta.getOrDefault("created", info.created().toString())).toEpochMilli();
                    String name = meta.getOrDefault("name", CloudControl.UNNAMED);
                    String group = meta.get("group");
                    if (group != null && tx.count("SELECT COUNT(*) FROM snapshot_groups WHERE group_id = ?", group) == 0) {
                        tx.update("INSERT INTO snapshot_groups (group_id, account_id, name, state, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?)",
                                group, account, name.replaceFirst("_\\d+$", ""), SnapshotState.NORMAL, created, clock.millis());
                    }
                    tx.update("INSERT INTO snapshots (" + Snapshot.COLUMNS + ") VALUES (" + Snapshot.PLACEHOLDERS + ")",
                            id, account, name, meta.getOrDefault("zone", control.region().zones().getFirst().zone()),
                            0L, meta.getOrDefault("disk", ""), (info.diskSize() + CloudControl.GIB - 1) / CloudControl.GIB,
                            meta.getOrDefault("disk-usage", DiskUsage.DATA_DISK.name()), SnapshotState.NORMAL, 100, m.toString(),
                            group, meta.get("policy"), true, null, created, clock.millis(), info.parent().isPresent(), info.logicalBytes(),
                            info.incrementalBytes(), 0L, meta.containsKey("copied-from"));
                    return new Restored(back);
                });
                if (r == null) continue;
                restored.add(id);
                if (r.account() != null) accounts.add(r.account());
            }
        } catch (IOException e) {
            throw new SnapshotsUnavailable("reading the repository failed: " + e.getMessage());
        }
        log.info("catalog rebuilt from repository: {} snapshots restored, {} accounts re-created", restored.size(), accounts.size());
        return new Rebuilt(restored, accounts);
    }

    private static void requireAdmin(Caller caller) {
        if (!caller.admin()) throw new ControlException.Unauthorized("only the admin account may maintain the repository");
    }
}
