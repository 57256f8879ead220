package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.control.ControlException.SnapshotsUnavailable;
import dev.cairn.control.ControlException.Unauthorized;
import dev.cairn.repository.ChunkId;
import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestInfo;
import dev.cairn.repository.ManifestReader;
import dev.cairn.repository.ManifestWriter;
import dev.cairn.repository.PutResult;
import dev.cairn.repository.Repository;
import dev.cairn.repository.backend.NoSuchObjectException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination side of a cross-region copy: another region's Cairn ({@link SnapshotCopies}, over
 * the API with this region's admin key) begins a copy, sends its blocks, and completes it.
 *
 * <p><b>What stays true.</b> The copy's row exists from {@code begin} on, {@code COPYING_FROM_REMOTE}
 * with its progress, then {@code CHECKING_COPIED}, and turns {@code NORMAL} only after its manifest is
 * committed (its chunks durable) and every chunk it lists was verified once: on arrival (its id computed
 * from the plaintext, or the stored chunk decoded and checked against its id), or, for a chunk taken
 * from the repository, read back before NORMAL. Blocks are taken by source chunk id
 * when this region already holds that chunk — from this session, or from an earlier verified copy
 * ({@code copied_chunks}, checked for presence first, since GC may have removed it) — so a copy moves
 * only the chunks this repository lacks. {@code copied_chunks} rows are written only for a verified copy.
 *
 * <p><b>Crashes.</b> A session lives in memory: if the sender stops, {@code begin} with resume finds
 * the session still open and the sender re-offers ids only; if this node stops, the copy's row waits in
 * {@code COPYING_FROM_REMOTE} and the sender's resume starts a new session (chunks of the lost session
 * are sent again). A copy whose sender never comes back can be deleted with DeleteSnapshots.
 *
 * <p><b>Threads.</b> Thread-safe. A session's puts may run at once (its writer takes blocks from many
 * threads); its completion waits for them and runs alone.
 */
public final class CopyReceiver {
    private static final Logger log = LoggerFactory.getLogger(CopyReceiver.class);
    private static final long PROGRESS_INTERVAL_MS = 1000;

    private final CloudControl control;
    private final Catalog catalog;
    private final SnapshotService snapshots;
    private final InstantSource clock;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();

    /** One copy being received: its manifest writer and which source chunks it already holds. */
    private static final class Session {
        final String snapshotId;
        final String sourceRepository;
        /** Data arrives as stored chunks under ids that are this repository's too (see {@link RegionPeer.Begun}). */
        final boolean storedChunks;
        final ManifestWriter writer;
        final Map<String, ChunkId> held = new ConcurrentHashMap<>();
        /** Chunks this session stored from data it checked on arrival (the rest, found stored already, are read back at the end). */
        final Set<ChunkId> arrived = ConcurrentHashMap.newKeySet();
        /** Puts share it (they may run at once: the sender keeps two requests in flight); complete and abandon take it alone. */
        final java.util.concurrent.locks.ReadWriteLock lock = new java.util.concurrent.locks.ReentrantReadWriteLock();
        final java.util.concurrent.atomic.AtomicLong lastProgressMs = new java.util.concurrent.atomic.AtomicLong();

        Session(String snapshotId, String sourceRepository, boolean storedChunks, ManifestWriter writer) {
            this.snapshotId = snapshotId;
            this.sourceRepository = sourceRepository;
            this.storedChunks = storedChunks;
            this.writer = writer;
        }
    }

    CopyReceiver(CloudControl control, Catalog catalog, SnapshotService snapshots, InstantSource clock) {
        this.control = control;
        this.catalog = catalog;
        this.snapshots = snapshots;
        this.clock = clock;
    }

    /**
     * Creates the copy's row (or, on resume, finds it) and opens a session unless one is open. Returns the
     * copy's state here (NORMAL: an earlier attempt completed it and nothing is left to send) and the
     * session's data form.
     */
    public RegionPeer.Begun begin(Caller caller, RegionPeer.CopyStart s) {
        requireAdmin(caller);
        Repository repo = snapshots.engine().repository();
        if (s.blockSize() != repo.blockSize()) {
            throw new InvalidValue("BlockSize", InvalidValue.Reason.UNSUPPORTED, "this region's repository uses " + repo.blockSize()
                    + "-byte blocks, the source " + s.blockSize() + "; copies need the same block size");
        }
        String zone = zoneFor(s.zone());
        long now = clock.millis();
        SnapshotState state = catalog.write(tx -> {
            if (tx.count("SELECT COUNT(*) FROM accounts WHERE account_id = ?", s.accountId()) == 0) {
                throw new NotFound(ResourceKind.ACCOUNT, Long.toString(s.accountId()));
            }
            Optional<Snapshot> row = SnapshotService.snapshotById(tx, s.copySnapshotId());
            if (row.isPresent()) {
                Snapshot r = row.get();
                if (!r.copyFromRemote() || r.accountId() != s.accountId()) {
                    throw new InvalidValue("SnapshotId", InvalidValue.Reason.CONFLICT, "snapshot id `" + s.copySnapshotId() + "` is taken here");
                }
                if (r.state() == SnapshotState.TORECYCLE) throw new NotFound(ResourceKind.SNAPSHOT, s.copySnapshotId());
                return r.state();
            }
            if (s.resume()) throw new NotFound(ResourceKind.SNAPSHOT, s.copySnapshotId()); // deleted here meanwhile
            control.quotas().requireDiskSnapshot(tx, s.accountId(), s.diskId());
            control.quotas().requireRegionSnapshots(tx, s.accountId(), 1);
            tx.update("INSERT INTO snapshots (" + Snapshot.COLUMNS + ") VALUES (" + Snapshot.PLACEHOLDERS + ")",
                    s.copySnapshotId(), s.accountId(), s.name(), zone, 0L, s.diskId(), s.diskSizeGib(), s.diskUsage(),
                    SnapshotState.COPYING_FROM_REMOTE, 0, null, null, null, true, null, now, now, false, 0L, 0L, 0L, true);
            return SnapshotState.COPYING_FROM_REMOTE;
        });
        if (state != SnapshotState.COPYING_FROM_REMOTE) return new RegionPeer.Begun(state.name(), false);
        Session se;
        try {
            se = sessions.computeIfAbsent(s.copySnapshotId(), id -> open(repo, s, zone));
        } catch (java.io.UncheckedIOException e) {
            throw new SnapshotsUnavailable("could not start the copy's manifest: " + e.getCause().getMessage());
        }
        log.info("copy begins snapshot={} account={} from={}/{} resume={}", s.copySnapshotId(), s.accountId(), s.sourceRegion(),
                s.sourceSnapshotId(), s.resume());
        return new RegionPeer.Begun(state.name(), se.storedChunks);
    }

    private Session open(Repository repo, RegionPeer.CopyStart s, String zone) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("snapshot", s.copySnapshotId());
        meta.put("account", Long.toString(s.accountId()));
        meta.put("disk", s.diskId());
        meta.put("name", s.name());
        meta.put("zone", zone);
        meta.put("disk-usage", s.diskUsage());
        meta.put("created", clock.instant().toString());
        meta.put("copied-from", s.sourceRegion() + "/" + s.sourceSnapshotId());
        try {
            return new Session(s.copySnapshotId(), s.sourceRepository(), s.storedChunks() && !repo.config().encrypted(),
                    repo.newManifest(null, s.diskBytes(), meta));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Takes blocks of a copy; returns the indexes of id-only blocks this region lacks (send them with data). */
    public List<Long> putBlocks(Caller caller, String snapshotId, List<RegionPeer.CopyBlock> blocks, long done, long total) {
        requireAdmin(caller);
        Session se = session(snapshotId);
        se.lock.readLock().lock();
        try {
            if (sessions.get(snapshotId) != se) throw notReceiving(snapshotId); // completed or abandoned meanwhile
            List<Long> missing = new ArrayList<>();
            try {
                for (RegionPeer.CopyBlock b : blocks) { // data first: id-only blocks of the same call may name these chunks
                    if (b.data() == null) continue;
                    checkIndex(se, b.index());
                    PutResult r = se.storedChunks ? se.writer.putStoredChunk(b.index(), ChunkId.parse(b.sourceChunk()), ByteBuffer.wrap(b.data()))
                            : se.writer.putBlock(b.index(), ByteBuffer.wrap(b.data()));
                    se.held.put(b.sourceChunk(), r.id());
                    if (r.newlyStored()) se.arrived.add(r.id()); // one found already stored was not checked: verify reads it
                }
                Map<String, ChunkId> known = knownChunks(se, blocks);
                for (RegionPeer.CopyBlock b : blocks) {
                    if (b.data() != null) continue;
                    checkIndex(se, b.index());
                    ChunkId id = se.held.get(b.sourceChunk());
                    if (id == null) id = se.storedChunks ? ChunkId.parse(b.sourceChunk()) : known.get(b.sourceChunk());
                    if (id == null) {
                        missing.add(b.index());
                        continue;
                    }
                    try {
                        se.writer.set(b.index(), id); // publishes the id to GC, then checks the chunk is here
                        se.held.put(b.sourceChunk(), id);
                    } catch (NoSuchObjectException gone) { // removed by GC since an earlier copy
                        missing.add(b.index());
                    }
                }
            } catch (IOException e) {
                throw new SnapshotsUnavailable("could not store the copy's blocks: " + e.getMessage());
            } catch (IllegalArgumentException e) {
                throw new InvalidValue("Blocks", InvalidValue.Reason.VALUE, e.getMessage());
            }
            long now = System.currentTimeMillis();
            long last = se.lastProgressMs.get();
            if (now - last >= PROGRESS_INTERVAL_MS && total > 0 && se.lastProgressMs.compareAndSet(last, now)) {
                long percent = Math.min(99, Math.max(0, done) * 100 / total);
                catalog.write(tx -> tx.update("UPDATE snapshots SET percent = ? WHERE snapshot_id = ? AND state = ?", percent, snapshotId,
                        SnapshotState.COPYING_FROM_REMOTE));
            }
            return missing;
        } finally {
            se.lock.readLock().unlock();
        }
    }

    private static void checkIndex(Session se, long index) {
        if (index < 0 || index >= se.writer.blockCount()) {
            throw new IllegalArgumentException("block index " + index + " is outside the disk's " + se.writer.blockCount() + " blocks");
        }
    }

    /** What earlier verified copies from the same source repository tell about these blocks' chunks. */
    private Map<String, ChunkId> knownChunks(Session se, List<RegionPeer.CopyBlock> blocks) {
        if (se.storedChunks) return Map.of(); // the ids are this repository's own
        List<String> ask = new ArrayList<>();
        for (RegionPeer.CopyBlock b : blocks) {
            if (b.data() == null && !se.held.containsKey(b.sourceChunk())) ask.add(b.sourceChunk());
        }
        Map<String, ChunkId> out = new HashMap<>();
        for (int i = 0; i < ask.size(); i += 500) {
            List<String> part = ask.subList(i, Math.min(ask.size(), i + 500));
            Object[] args = new Object[part.size() + 1];
            args[0] = se.sourceRepository;
            for (int k = 0; k < part.size(); k++) args[k + 1] = part.get(k);
            catalog.read(tx -> tx.query("SELECT source_chunk, chunk_id FROM copied_chunks WHERE source_repository = ? AND source_chunk IN ("
                    + "?, ".repeat(part.size() - 1) + "?)", rs -> out.put(rs.getString(1), ChunkId.parse(rs.getString(2))), args));
        }
        return out;
    }

    /**
     * Ends a copy: commits its manifest ({@code CHECKING_COPIED}), reads back and verifies every chunk it
     * lists, then makes it NORMAL. A copy that fails verification goes back to {@code COPYING_FROM_REMOTE}
     * and the sender begins it again.
     */
    public void complete(Caller caller, String snapshotId) {
        requireAdmin(caller);
        Session se = session(snapshotId);
        Repository repo = snapshots.engine().repository();
        se.lock.writeLock().lock();
        try {
            if (!sessions.remove(snapshotId, se)) throw notReceiving(snapshotId); // completed or abandoned meanwhile
            try (ManifestWriter w = se.writer) {
                int n = catalog.write(tx -> tx.update("UPDATE snapshots SET state = ?, percent = 99, modified_at = ? WHERE snapshot_id = ? AND state = ?",
                        SnapshotState.CHECKING_COPIED, clock.millis(), snapshotId, SnapshotState.COPYING_FROM_REMOTE));
                if (n == 0) throw new NotFound(ResourceKind.SNAPSHOT, snapshotId); // deleted here meanwhile
                ManifestId manifest = w.commit();
                catalog.write(tx -> tx.update("UPDATE snapshots SET manifest_id = ? WHERE snapshot_id = ?", manifest.toString(), snapshotId));
                Set<ChunkId> bad = verify(repo, manifest, se.arrived);
                if (!bad.isEmpty()) {
                    unverified(se, manifest, bad);
                    throw new SnapshotsUnavailable("copy " + snapshotId + " failed verification: " + bad.size()
                            + " chunk(s) missing or damaged (first " + bad.iterator().next().shortForm() + "); begin it again");
                }
                ManifestInfo info = repo.openManifest(manifest).info();
                catalog.write(tx -> {
                    for (Map.Entry<String, ChunkId> e : se.storedChunks ? Map.<String, ChunkId>of().entrySet() : se.held.entrySet()) {
                        tx.update("INSERT INTO copied_chunks (source_repository, source_chunk, chunk_id) VALUES (?, ?, ?) "
                                + "ON CONFLICT (source_repository, source_chunk) DO UPDATE SET chunk_id = excluded.chunk_id",
                                se.sourceRepository, e.getKey(), e.getValue().toString());
                    }
                    tx.update("UPDATE snapshots SET state = ?, percent = 100, modified_at = ?, logical_bytes = ?, incremental_bytes = ?, "
                                    + "bytes_read = ? WHERE snapshot_id = ?", SnapshotState.NORMAL, clock.millis(), info.logicalBytes(),
                            info.incrementalBytes(), info.logicalBytes(), snapshotId);
                    return null;
                });
                log.info("copy verified snapshot={} manifest={} chunks={} new_bytes={}", snapshotId, manifest.shortForm(), se.held.size(),
                        info.incrementalBytes());
            } catch (IOException e) {
                catalog.write(tx -> tx.update("UPDATE snapshots SET state = ? WHERE snapshot_id = ? AND state = ?",
                        SnapshotState.COPYING_FROM_REMOTE, snapshotId, SnapshotState.CHECKING_COPIED));
                throw new SnapshotsUnavailable("could not commit copy " + snapshotId + ": " + e.getMessage() + "; begin it again");
            }
        } finally {
            se.lock.writeLock().unlock();
        }
    }

    /**
     * Reads every distinct chunk of {@code manifest} except those checked on arrival ({@code arrived}: a
     * plaintext block's id is computed from it, a stored chunk is decoded and checked before it is kept);
     * returns those that are missing or fail verification.
     */
    private static Set<ChunkId> verify(Repository repo, ManifestId manifest, Set<ChunkId> arrived) throws IOException {
        ManifestReader reader = repo.openManifest(manifest);
        Set<ChunkId> seen = new HashSet<>();
        Set<ChunkId> bad = new HashSet<>();
        ByteBuffer buffer = ByteBuffer.allocate(reader.blockSize());
        reader.forEach((index, id) -> {
            if (id.isZero() || arrived.contains(id) || !seen.add(id)) return;
            try {
                buffer.clear();
                repo.readBlock(id, buffer);
            } catch (IOException e) {
                bad.add(id);
            }
        });
        return bad;
    }

    /** A copy that failed verification: back to COPYING_FROM_REMOTE, its manifest dropped, the bad chunks forgotten. */
    private void unverified(Session se, ManifestId manifest, Set<ChunkId> bad) {
        List<String> badSources = new ArrayList<>();
        se.held.forEach((source, id) -> {
            if (bad.contains(id)) badSources.add(source);
        });
        catalog.write(tx -> {
            tx.update("UPDATE snapshots SET state = ?, manifest_id = NULL WHERE snapshot_id = ?", SnapshotState.COPYING_FROM_REMOTE, se.snapshotId);
            for (String source : badSources) {
                tx.update("DELETE FROM copied_chunks WHERE source_repository = ? AND source_chunk = ?", se.sourceRepository, source);
            }
            return null;
        });
        snapshots.release(List.of(manifest.toString()));
        for (ChunkId id : bad) { // a damaged object would pass for present and block the resend
            try {
                snapshots.engine().repository().dropDamagedChunk(id);
            } catch (IOException | RuntimeException e) {
                log.warn("could not remove damaged chunk {} of copy {}", id.shortForm(), se.snapshotId, e);
            }
        }
    }

    /** Drops the session of a copy deleted here (DeleteSnapshots of a COPYING_FROM_REMOTE copy). */
    void abandon(String snapshotId) {
        Session se = sessions.remove(snapshotId);
        if (se != null) {
            se.lock.writeLock().lock();
            try {
                se.writer.close();
            } finally {
                se.lock.writeLock().unlock();
            }
        }
    }

    /** At start: copies that were being verified when the node stopped wait for their sender again. */
    void recover() {
        List<String> manifests = catalog.write(tx -> {
            List<String> names = tx.query("SELECT manifest_id FROM snapshots WHERE state = ? AND manifest_id IS NOT NULL", rs -> rs.getString(1),
                    SnapshotState.CHECKING_COPIED);
            tx.update("UPDATE snapshots SET state = ?, manifest_id = NULL WHERE state = ?", SnapshotState.COPYING_FROM_REMOTE,
                    SnapshotState.CHECKING_COPIED);
            return names;
        });
        snapshots.release(manifests);
    }

    private Session session(String snapshotId) {
        Session se = sessions.get(snapshotId);
        if (se == null) throw notReceiving(snapshotId);
        return se;
    }

    private static NotFound notReceiving(String snapshotId) {
        return new NotFound(ResourceKind.SNAPSHOT, snapshotId, "no copy of `" + snapshotId + "` is being received here; begin it again");
    }

    /** Zone {@code <this region>-N} for a source zone {@code <other region>-N}, else this region's first zone. */
    private String zoneFor(String sourceZone) {
        String suffix = sourceZone == null ? "" : sourceZone.substring(sourceZone.lastIndexOf('-') + 1);
        return control.region().zone(control.region().name() + "-" + suffix).map(Region.Zone::zone)
                .orElse(control.region().zones().getFirst().zone());
    }

    private static void requireAdmin(Caller caller) {
        if (!caller.admin()) throw new Unauthorized("only another region's Cairn, with this region's admin key, sends copies");
    }
}
