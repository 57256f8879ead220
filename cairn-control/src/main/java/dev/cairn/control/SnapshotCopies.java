package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.SnapshotConflict;
import dev.cairn.repository.ChunkId;
import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestReader;
import dev.cairn.repository.Repository;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CopySnapshotCrossRegions, the source side: copies a NORMAL snapshot to other regions' Cairns (their
 * {@link RegionPeer}s), which receive it with their {@link CopyReceiver}.
 *
 * <p><b>How a copy runs.</b> The call creates the copy's row here ({@code snapshot_copies}, RUNNING)
 * and at the destination (which answers its new snapshot id's state) before it returns; a background
 * job then walks the snapshot's manifest in batches: it offers each batch by chunk id, sends with data
 * only the blocks the destination lacks (a chunk once per batch, however many blocks hold it), and
 * completes the copy, which the destination verifies before it is NORMAL there. Zero blocks are never
 * sent. A second copy of a later snapshot of the same disk thus moves only what changed.
 *
 * <p><b>What stays true.</b> At most one RUNNING copy of a snapshot per region; a snapshot being copied
 * cannot be deleted. A RUNNING job stopped by a crash or shutdown resumes at the next start (and a
 * failed attempt after a back-off): the destination still holds what was sent, so a resume moves only
 * the rest. After {@link #MAX_ATTEMPTS} failed attempts, or if the copy or the source is deleted, the
 * row is FAILED with the reason.
 *
 * <p><b>Threads.</b> Thread-safe; each job runs on its own background thread.
 */
public final class SnapshotCopies {
    private static final Logger log = LoggerFactory.getLogger(SnapshotCopies.class);
    static final int MAX_ATTEMPTS = 8;
    /** Blocks offered by id per round trip. */
    private static final int OFFER_BLOCKS = 1024;
    /** Plaintext bytes of block data per request (well under the API's body limit once in base64). */
    static final int DATA_BYTES_PER_REQUEST = 8 << 20;

    public enum State { RUNNING, DONE, FAILED }

    /** One copy of a snapshot to a region, as {@code DescribeSnapshotCopies} shows it. */
    public record Copy(String copySnapshotId, String snapshotId, String region, State state, int percent, long blocksTotal,
                       long blocksDone, long chunksSent, long bytesSent, int attempts, String error, Instant createdAt, Instant finishedAt) {}

    /** What CopySnapshotCrossRegions answers per destination: {@code code} "Success" or Tencent's error code. */
    public record Result(String region, String snapshotId, String code, String message) {}

    private final CloudControl control;
    private final Catalog catalog;
    private final SnapshotService snapshots;
    private final InstantSource clock;
    private final BackgroundWork background;
    private volatile Map<String, RegionPeer> peers = Map.of();
    private final java.util.concurrent.atomic.LongAdder done = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder failed = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder chunksSent = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder bytesSent = new java.util.concurrent.atomic.LongAdder();

    /** What this node's copies did since it started (for /metrics). */
    public record Stats(long copiesDone, long copiesFailed, long chunksSent, long bytesSent) {}

    public Stats stats() {
        return new Stats(done.sum(), failed.sum(), chunksSent.sum(), bytesSent.sum());
    }
    private volatile long bytesPerSecond;

    SnapshotCopies(CloudControl control, Catalog catalog, SnapshotService snapshots, InstantSource clock, BackgroundWork background) {
        this.control = control;
        this.catalog = catalog;
        this.snapshots = snapshots;
        this.clock = clock;
        this.background = background;
    }

    /**
     * Sets the regions this node copies to and the rate limit of the copies' data (≤ 0: unlimited), and
     * resumes the copies that were RUNNING when the node last stopped.
     */
    public void start(List<RegionPeer> regions, long dataBytesPerSecond) {
        Map<String, RegionPeer> byName = new LinkedHashMap<>();
        for (RegionPeer p : regions) {
            if (p.region().equals(control.region().name())) throw new IllegalArgumentException("region " + p.region() + " is this region");
            if (byName.put(p.region(), p) != null) throw new IllegalArgumentException("region " + p.region() + " is configured twice");
        }
        this.peers = Map.copyOf(byName);
        this.bytesPerSecond = dataBytesPerSecond;
        List<String> running = catalog.read(tx -> tx.query("SELECT copy_snapshot_id FROM snapshot_copies WHERE state = ?", rs -> rs.getString(1),
                State.RUNNING));
        for (String id : running) submit(id);
        if (!running.isEmpty()) log.info("resuming {} cross-region copies: {}", running.size(), running);
    }

    /** The regions this node can copy snapshots to. */
    public List<String> regions() {
        return peers.keySet().stream().sorted().toList();
    }

    /** CopySnapshotCrossRegions: one result per region; the copies run on in the background. */
    public List<Result> copy(Caller caller, String snapshotId, List<String> regions, String name) {
        return control.recorded(caller, "CopySnapshotCrossRegions", () -> {
            if (regions.isEmpty()) throw new InvalidValue("DestinationRegions", InvalidValue.Reason.VALUE, "name at least one region");
            for (String r : regions) {
                if (r.equals(control.region().name())) {
                    throw new InvalidValue("DestinationRegions", InvalidValue.Reason.VALUE, "`" + r + "` is this region; copy to another one");
                }
                if (!peers.containsKey(r)) {
                    throw new InvalidValue("DestinationRegions", InvalidValue.Reason.VALUE, "region `" + r + "` is not configured for copies"
                            + (peers.isEmpty() ? " (this server has no --peer-region)" : "; this server copies to " + String.join(", ", regions())));
                }
            }
            if (new HashSet<>(regions).size() != regions.size()) {
                throw new InvalidValue("DestinationRegions", InvalidValue.Reason.DUPLICATE, "a region is named twice");
            }
            Repository repo = snapshots.engine().repository();
            Snapshot s = catalog.read(tx -> SnapshotService.ownSnapshot(tx, caller, snapshotId));
            SnapshotService.requireSettled(s);
            List<Result> results = new ArrayList<>();
            for (String region : regions) {
                results.add(copyTo(caller, s, region, name == null ? "Copied " + s.snapshotId() + " from " + control.region().name() : name, repo));
            }
            return results;
        });
    }

    private Result copyTo(Caller caller, Snapshot s, String region, String name, Repository repo) {
        String copyId = Ids.snapshot();
        long now = clock.millis();
        boolean free = catalog.write(tx -> {
            if (tx.count("SELECT COUNT(*) FROM snapshot_copies WHERE snapshot_id = ? AND region = ? AND state = ?", s.snapshotId(), region,
                    State.RUNNING) > 0) return false;
            long blocks = (s.diskSizeGib() * CloudControl.GIB + repo.blockSize() - 1) / repo.blockSize();
            tx.update("INSERT INTO snapshot_copies (copy_snapshot_id, snapshot_id, account_id, region, state, percent, blocks_total, blocks_done, "
                            + "chunks_sent, bytes_sent, attempts, error, created_at, finished_at) VALUES (?, ?, ?, ?, ?, 0, ?, 0, 0, 0, 0, NULL, ?, NULL)",
                    copyId, s.snapshotId(), caller.accountId(), region, State.RUNNING, blocks, now);
            return true;
        });
        if (!free) {
            return new Result(region, "", "ResourceInUse.CopySnapshotConflict", "snapshot `" + s.snapshotId() + "` is already being copied to " + region);
        }
        try {
            peers.get(region).begin(start(s, copyId, name, repo, false));
        } catch (IOException e) {
            catalog.write(tx -> tx.update("DELETE FROM snapshot_copies WHERE copy_snapshot_id = ?", copyId));
            log.warn("copy of {} to {} refused: {}", s.snapshotId(), region, e.getMessage());
            return e instanceof RegionPeer.PeerError pe ? new Result(region, "", pe.code(), e.getMessage())
                    : new Result(region, "", "InternalError.ComponentError", "region " + region + " did not answer: " + e.getMessage());
        }
        catalog.write(tx -> {
            Rows.recordOps(tx, caller, "CopySnapshotCrossRegions", List.of(s.snapshotId()), "PROCESSING", now, "to " + region + " as " + copyId);
            return null;
        });
        log.info("copy started snapshot={} region={} copy={}", s.snapshotId(), region, copyId);
        submit(copyId);
        return new Result(region, copyId, "Success", "");
    }

    private RegionPeer.CopyStart start(Snapshot s, String copyId, String name, Repository repo, boolean resume) {
        return new RegionPeer.CopyStart(copyId, s.accountId(), name, control.region().name(), s.snapshotId(), repo.config().repositoryId(),
                s.diskId(), s.diskSizeGib(), s.diskUsage().name(), s.zone(), s.diskSizeGib() * CloudControl.GIB, repo.blockSize(),
                !repo.config().encrypted(), resume);
    }

    /** The caller's copies (of one snapshot, if given), newest first. */
    public List<Copy> describe(Caller caller, String snapshotId) {
        return catalog.read(tx -> tx.query("SELECT " + COPY_COLUMNS + " FROM snapshot_copies WHERE account_id = ?"
                + (snapshotId == null ? "" : " AND snapshot_id = ?") + " ORDER BY created_at DESC, copy_snapshot_id",
                SnapshotCopies::copy, snapshotId == null ? new Object[] {caller.accountId()} : new Object[] {caller.accountId(), snapshotId}));
    }

    /** Regions each of the caller's snapshots is being copied to (DescribeSnapshots' CopyingToRegions). */
    public Map<String, List<String>> copyingTo(Caller caller) {
        Map<String, List<String>> out = new HashMap<>();
        catalog.read(tx -> tx.query("SELECT snapshot_id, region FROM snapshot_copies WHERE account_id = ? AND state = ? ORDER BY region",
                rs -> out.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2)), caller.accountId(), State.RUNNING));
        return out;
    }

    /** Refuses, in the caller's transaction, to delete snapshots that are being copied. */
    static void requireNotCopying(Catalog.Tx tx, List<String> snapshotIds) throws SQLException {
        for (String id : snapshotIds) {
            List<String> to = tx.query("SELECT region FROM snapshot_copies WHERE snapshot_id = ? AND state = ?", rs -> rs.getString(1), id, State.RUNNING);
            if (!to.isEmpty()) {
                throw new SnapshotConflict(id, SnapshotConflict.Problem.BUSY, "snapshot `" + id + "` is being copied to " + String.join(", ", to)
                        + "; delete it when the copy is done");
            }
        }
    }

    private static final String COPY_COLUMNS = "copy_snapshot_id, snapshot_id, region, state, percent, blocks_total, blocks_done, chunks_sent, "
            + "bytes_sent, attempts, error, created_at, finished_at";

    private static Copy copy(ResultSet rs) throws SQLException {
        long finished = rs.getLong(13);
        boolean notFinished = rs.wasNull();
        return new Copy(rs.getString(1), rs.getString(2), rs.getString(3), State.valueOf(rs.getString(4)), rs.getInt(5), rs.getLong(6),
                rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getInt(10), rs.getString(11), Instant.ofEpochMilli(rs.getLong(12)),
                notFinished ? null : Instant.ofEpochMilli(finished));
    }

    // ------------------------------------------------------------------ the job

    /** Copies with a job on this node: one job per copy, even if {@link #start} runs again. */
    private final Set<String> active = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private void submit(String copyId) {
        if (!active.add(copyId)) return;
        background.submit("copy " + copyId, () -> {
            try {
                run(copyId);
            } finally {
                active.remove(copyId);
            }
        });
    }

    private void run(String copyId) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            Copy c = catalog.read(tx -> tx.first("SELECT " + COPY_COLUMNS + " FROM snapshot_copies WHERE copy_snapshot_id = ?", SnapshotCopies::copy,
                    copyId)).orElse(null);
            if (c == null || c.state() != State.RUNNING) return;
            RegionPeer peer = peers.get(c.region());
            if (peer == null) {
                finish(copyId, State.FAILED, "region " + c.region() + " is no longer configured (--peer-region)");
                return;
            }
            catalog.write(tx -> tx.update("UPDATE snapshot_copies SET attempts = attempts + 1 WHERE copy_snapshot_id = ?", copyId));
            try {
                send(c, peer);
                finish(copyId, State.DONE, null);
                log.info("copy done copy={} snapshot={} region={}", copyId, c.snapshotId(), c.region());
                return;
            } catch (Gone e) {
                finish(copyId, State.FAILED, e.getMessage());
                log.warn("copy {} of {} to {} failed: {}", copyId, c.snapshotId(), c.region(), e.getMessage());
                return;
            } catch (IOException | RuntimeException e) {
                if (background.closing()) return; // resumes at the next start
                if (attempt >= MAX_ATTEMPTS) {
                    finish(copyId, State.FAILED, "gave up after " + attempt + " attempts: " + e.getMessage());
                    log.warn("copy {} of {} to {} failed", copyId, c.snapshotId(), c.region(), e);
                    return;
                }
                catalog.write(tx -> tx.update("UPDATE snapshot_copies SET error = ? WHERE copy_snapshot_id = ?", Rows.truncate(e.toString()), copyId));
                long wait = Math.min(60_000, 1000L << Math.min(attempt, 6));
                log.info("copy {} to {}: attempt {} failed ({}); again in {} ms", copyId, c.region(), attempt, e.getMessage(), wait);
                Thread.sleep(wait);
            }
        }
    }

    /** The copy cannot go on: its source or its destination row is gone. */
    private static final class Gone extends IOException {
        Gone(String message) { super(message); }
    }

    private void send(Copy c, RegionPeer peer) throws IOException {
        Repository repo = snapshots.engine().repository();
        Snapshot s = catalog.read(tx -> SnapshotService.snapshotById(tx, c.snapshotId())).orElse(null);
        if (s == null || s.manifestId() == null) throw new Gone("the source snapshot " + c.snapshotId() + " was deleted");
        ManifestReader reader = repo.openManifest(ManifestId.parse(s.manifestId()));
        RegionPeer.Begun begun;
        try {
            begun = peer.begin(start(s, c.copySnapshotId(), s.name(), repo, true));
        } catch (RegionPeer.PeerError e) {
            if (e.code().endsWith(".NotFound")) throw new Gone("the copy was deleted in " + c.region() + " (" + e.getMessage() + ")");
            throw e;
        }
        if (begun.state().equals(SnapshotState.NORMAL.name())) return; // an earlier attempt completed it
        Sender sender = new Sender(c, peer, repo, reader.blockCount(), begun.storedChunks());
        List<Long> indexes = new ArrayList<>(OFFER_BLOCKS);
        List<ChunkId> ids = new ArrayList<>(OFFER_BLOCKS);
        long[] seen = {0};
        reader.forEach((index, id) -> {
            seen[0] = index + 1;
            if (id.isZero()) return;
            indexes.add(index);
            ids.add(id);
            if (indexes.size() == OFFER_BLOCKS) {
                sender.batch(indexes, ids, seen[0]);
                indexes.clear();
                ids.clear();
            }
        });
        sender.batch(indexes, ids, reader.blockCount());
        peer.complete(c.copySnapshotId());
    }

    /** Requests with data in flight at once: one is read from the repository while another travels. */
    static final int REQUESTS_IN_FLIGHT = 2;

    /** One attempt's sending state: progress, and the rate limit's clock. */
    private final class Sender {
        private final Copy copy;
        private final RegionPeer peer;
        private final Repository repo;
        private final long total;
        /** Chunks travel in their stored (compressed) form; the destination checks them. */
        private final boolean storedChunks;
        private final long startedNanos = System.nanoTime();
        private final java.util.concurrent.atomic.AtomicLong dataBytes = new java.util.concurrent.atomic.AtomicLong();
        /** Blocks walked so far (the progress the destination shows). */
        private long walked;

        Sender(Copy copy, RegionPeer peer, Repository repo, long total, boolean storedChunks) {
            this.copy = copy;
            this.peer = peer;
            this.repo = repo;
            this.total = total;
            this.storedChunks = storedChunks;
        }

        /**
         * Offers blocks by id, sends the missing ones with data (recording what went, request by request),
         * then records that the walk reached block {@code done}.
         */
        void batch(List<Long> indexes, List<ChunkId> ids, long done) throws IOException {
            if (background.closing()) throw new IOException("server stopping");
            Map<Long, ChunkId> byIndex = new HashMap<>();
            List<RegionPeer.CopyBlock> offer = new ArrayList<>(indexes.size());
            for (int i = 0; i < indexes.size(); i++) {
                byIndex.put(indexes.get(i), ids.get(i));
                offer.add(new RegionPeer.CopyBlock(indexes.get(i), ids.get(i).toString(), null));
            }
            List<Long> missing = offer.isEmpty() ? List.of() : peer.putBlocks(copy.copySnapshotId(), offer, walked, total);
            // A chunk's blocks travel in one request (its data once, the other blocks by id), so requests
            // do not depend on each other and may be in flight together.
            Map<ChunkId, List<Long>> byChunk = new LinkedHashMap<>();
            for (Long index : missing) {
                ChunkId id = byIndex.get(index);
                if (id == null) throw new IOException("region " + copy.region() + " asked for block " + index + ", which was not offered");
                byChunk.computeIfAbsent(id, k -> new ArrayList<>()).add(index);
            }
            List<Map<ChunkId, List<Long>>> requests = new ArrayList<>();
            Map<ChunkId, List<Long>> request = new LinkedHashMap<>();
            long requestBytes = 0;
            for (Map.Entry<ChunkId, List<Long>> e : byChunk.entrySet()) {
                request.put(e.getKey(), e.getValue());
                requestBytes += repo.blockSize();
                if (requestBytes >= DATA_BYTES_PER_REQUEST) {
                    requests.add(request);
                    request = new LinkedHashMap<>();
                    requestBytes = 0;
                }
            }
            if (!request.isEmpty()) requests.add(request);
            sendAll(requests, done);
            walked = done;
            long percent = total == 0 ? 99 : Math.min(99, done * 100 / total);
            catalog.write(tx -> tx.update("UPDATE snapshot_copies SET blocks_total = ?, blocks_done = ?, percent = ? WHERE copy_snapshot_id = ?",
                    total, done, percent, copy.copySnapshotId()));
        }

        /** Sends the requests, {@link #REQUESTS_IN_FLIGHT} at a time; the first failure fails the batch. */
        private void sendAll(List<Map<ChunkId, List<Long>>> requests, long done) throws IOException {
            if (requests.isEmpty()) return;
            java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(REQUESTS_IN_FLIGHT);
            List<java.util.concurrent.Future<Void>> sent = new ArrayList<>();
            try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (Map<ChunkId, List<Long>> r : requests) {
                    slots.acquireUninterruptibly();
                    sent.add(pool.submit(() -> {
                        try {
                            send(r, done);
                            return null;
                        } finally {
                            slots.release();
                        }
                    }));
                }
                for (var f : sent) f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof IOException io) throw io;
                throw new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }

        /**
         * Reads one request's chunks and sends them: stored as they are (the destination decodes and checks
         * each), or as plaintext (verified on read here: a damaged source chunk fails the copy, never travels).
         */
        private void send(Map<ChunkId, List<Long>> request, long done) throws IOException {
            List<RegionPeer.CopyBlock> blocks = new ArrayList<>();
            ByteBuffer buffer = ByteBuffer.allocate(repo.blockSize());
            long bytes = 0;
            for (Map.Entry<ChunkId, List<Long>> e : request.entrySet()) {
                byte[] data;
                if (storedChunks) {
                    data = Repository.bytesOf(repo.readStoredChunk(e.getKey()));
                } else {
                    buffer.clear();
                    data = Arrays.copyOf(buffer.array(), repo.readBlock(e.getKey(), buffer));
                }
                bytes += data.length;
                List<Long> indexes = e.getValue();
                blocks.add(new RegionPeer.CopyBlock(indexes.getFirst(), e.getKey().toString(), data));
                for (Long more : indexes.subList(1, indexes.size())) blocks.add(new RegionPeer.CopyBlock(more, e.getKey().toString(), null));
            }
            List<Long> still = peer.putBlocks(copy.copySnapshotId(), blocks, done, total);
            if (!still.isEmpty()) throw new IOException("region " + copy.region() + " still lacks blocks " + still.subList(0, Math.min(5, still.size())));
            long chunks = request.size();
            long sentBytes = bytes;
            catalog.write(tx -> tx.update("UPDATE snapshot_copies SET chunks_sent = chunks_sent + ?, bytes_sent = bytes_sent + ? WHERE copy_snapshot_id = ?",
                    chunks, sentBytes, copy.copySnapshotId()));
            chunksSent.add(chunks);
            bytesSent.add(sentBytes);
            pace(sentBytes);
        }

        /** Sleeps so that the data sent so far keeps to the rate limit. */
        private void pace(long justSent) throws IOException {
            long limit = bytesPerSecond;
            long so = dataBytes.addAndGet(justSent);
            if (limit <= 0) return;
            long wait = startedNanos + (long) (so * 1e9 / limit) - System.nanoTime();
            if (wait > 0) {
                try {
                    Thread.sleep(Duration.ofNanos(wait));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
        }
    }

    private void finish(String copyId, State state, String error) {
        (state == State.DONE ? done : failed).increment();
        catalog.write(tx -> {
            tx.update("UPDATE snapshot_copies SET state = ?, percent = CASE WHEN ? THEN 100 ELSE percent END, error = ?, finished_at = ? "
                    + "WHERE copy_snapshot_id = ?", state, state == State.DONE, error == null ? null : Rows.truncate(error), clock.millis(), copyId);
            String source = tx.first("SELECT snapshot_id FROM snapshot_copies WHERE copy_snapshot_id = ?", rs -> rs.getString(1), copyId).orElse(null);
            if (source != null) {
                Rows.finishOps(tx, "CopySnapshotCrossRegions", source, state == State.DONE ? "SUCCESS" : "FAILED", clock.millis(),
                        error == null ? "copy " + copyId + " done" : error);
            }
            return null;
        });
    }
}
