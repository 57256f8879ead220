package dev.cairn.repository;

import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Builds one manifest — one snapshot's block → chunk map — and commits it durably
 * ({@code docs/repository-format.md} §5–6). Obtained from {@link Repository#newManifest}.
 *
 * <p><b>Incremental.</b> It starts from the parent's page list (or all-zero pages). Setting an entry
 * loads only the page it falls in; {@link #commit()} re-encodes only those pages, so a child that
 * changed one block writes one page and one root. Entries may be set in any order, and again (the
 * last value wins).
 *
 * <p><b>What stays true.</b> The writer is registered in the repository's {@link WriterRegistry} from
 * construction until it commits or closes, and publishes every id it will reference (the parent's
 * pages at once; each chunk before it is checked or stored; each new page before it is stored), so
 * GC keeps them. {@code commit()} writes pages only after every chunk put has returned, makes the
 * last chunks and the pages durable in one group commit, and writes the root only after it; the
 * manifest exists from the moment the root is durable.
 *
 * <p><b>Memory.</b> 32 bytes per entry of each page touched (a full capture of a 1 TiB disk in 1 MiB
 * blocks holds 32 MiB), plus 32 bytes per published id in the registry.
 *
 * <p><b>Threads.</b> {@link #putBlock}, {@link #set} and {@link #setZero} may be called from many
 * threads at once (not for the same index at the same time). {@link #commit()} is called once, after
 * every put returned; puts racing with it fail with {@link IllegalStateException}. Close it in all
 * cases (try-with-resources): closing an uncommitted writer abandons it, leaving only garbage.
 */
public final class ManifestWriter implements AutoCloseable {

    private enum State { OPEN, COMMITTING, COMMITTED, CLOSED }

    private final Repository repo;
    private final WriterRegistry.Writer registration;
    private final ChunkId parentId;
    private final long diskSize;
    private final long entryCount;
    private final int blockSize;
    private final int pageEntries;
    private final Map<String, String> metadata;
    private final ChunkId[] pageIds;
    /** Pages whose entries are being changed, by page index; each 4 words per entry. Guarded by this. */
    private final TreeMap<Integer, long[]> dirty = new TreeMap<>();
    /** Non-zero entries of all pages that are not dirty (the parent's count, adjusted as pages turn dirty). Guarded by this. */
    private long baseNonZero;
    private final LongAdder newChunks = new LongAdder();
    private final LongAdder newChunkBytes = new LongAdder();
    private State state = State.OPEN;
    /** New chunks go through this batch: durable together at the next group commit, and before any page. */
    private final dev.cairn.repository.backend.Backend.Batch batch;
    /** This writer's chunks, riding on {@link #batch} (format 2: packed). */
    private final ChunkStore.Writes chunkWrites;
    private final java.util.concurrent.atomic.AtomicLong sinceGroupCommit = new java.util.concurrent.atomic.AtomicLong();
    /** New chunks between group commits: bounds what a long capture holds uncommitted (64 MiB of 64 KiB blocks). */
    static final int GROUP_COMMIT_CHUNKS = 1024;

    ManifestWriter(Repository repo, String name, ManifestId parent, ManifestRoot parentRoot, long diskSize, Map<String, String> metadata) throws IOException {
        this.repo = repo;
        this.diskSize = diskSize;
        this.blockSize = repo.blockSize();
        this.entryCount = ManifestRoot.entryCount(diskSize, blockSize);
        this.pageEntries = parentRoot != null ? parentRoot.pageEntries : repo.config().pageEntries();
        this.metadata = Map.copyOf(metadata);
        this.parentId = parent == null ? ChunkId.ZERO : parent.content();
        this.pageIds = new ChunkId[ManifestRoot.pageCount(entryCount, pageEntries)];
        Arrays.fill(pageIds, ChunkId.ZERO);
        this.registration = repo.writers().begin(name);
        this.batch = repo.backend().batch();
        this.chunkWrites = repo.chunks().writes(batch);
        try {
            if (parentRoot != null) startFromParent(parentRoot);
        } catch (IOException | RuntimeException e) {
            batch.close();
            registration.close();
            throw e;
        }
    }

    private void startFromParent(ManifestRoot parent) throws IOException {
        int shared = Math.min(pageIds.length, parent.pageCount());
        for (int k = 0; k < shared; k++) {
            pageIds[k] = parent.pageId(k);
            registration.publishPage(pageIds[k]); // protects the pages (and through them their chunks) from GC
        }
        long nonZero = parent.nonZeroEntries;
        if (entryCount < parent.entryCount) {
            // The disk shrank: pages past the end drop out, and the last page's tail must read as zero.
            for (int k = shared; k < parent.pageCount(); k++) {
                if (!parent.pageId(k).isZero()) nonZero -= countNonZero(repo.readPage(parent.pageId(k), pageEntries));
            }
            synchronized (this) {
                baseNonZero = nonZero;
            }
            int tail = (int) (entryCount % pageEntries);
            if (tail != 0 && !pageIds[pageIds.length - 1].isZero()) {
                long[] last = dirtyPage(pageIds.length - 1);
                synchronized (this) {
                    Arrays.fill(last, tail * 4, last.length, 0L);
                }
            }
        } else {
            synchronized (this) {
                baseNonZero = nonZero;
            }
        }
    }

    /** Number of blocks (entries) of this manifest. */
    public long blockCount() {
        return entryCount;
    }

    public int blockSize() {
        return blockSize;
    }

    public long diskSize() {
        return diskSize;
    }

    public Optional<ManifestId> parent() {
        return parentId.isZero() ? Optional.empty() : Optional.of(new ManifestId(parentId));
    }

    /** Length of block {@code index}: the block size, or less for the last block of an odd-sized disk. */
    public int blockLength(long index) {
        checkIndex(index);
        return (int) Math.min(blockSize, diskSize - index * blockSize);
    }

    /**
     * Stores block {@code index} (exactly {@link #blockLength} bytes, from position to limit) and sets
     * its entry. A block of zeros is not stored; its entry becomes ZERO.
     */
    public PutResult putBlock(long index, ByteBuffer plaintext) throws IOException {
        int expected = blockLength(index);
        if (plaintext.remaining() != expected) throw new IllegalArgumentException("block " + index + " has " + expected + " bytes, got " + plaintext.remaining());
        ensureOpen();
        PutResult r = repo.putBlock(registration, plaintext, chunkWrites);
        setEntry(index, r.id());
        return counted(r);
    }

    /**
     * Stores block {@code index} from chunk {@code id}'s stored form as another unencrypted repository
     * holds it ({@link Repository#readStoredChunk}), without compressing it again. The object is decoded
     * and checked against {@code id} (and the block's length) first; both repositories must be
     * unencrypted, so that ids are SHA-256 of the plaintext in both.
     *
     * @throws CorruptObjectException if {@code stored} is not chunk {@code id}
     * @throws IllegalStateException if this repository is encrypted
     */
    public PutResult putStoredChunk(long index, ChunkId id, ByteBuffer stored) throws IOException {
        checkIndex(index);
        if (repo.config().encrypted()) throw new IllegalStateException("an encrypted repository cannot take another's stored chunks");
        ensureOpen();
        int length = repo.verifyStoredChunk(id, stored);
        if (length != blockLength(index)) {
            throw new IllegalArgumentException("block " + index + " has " + blockLength(index) + " bytes, chunk " + id.shortForm() + " holds " + length);
        }
        registration.publishChunk(id);
        boolean isNew = chunkWrites.put(id, stored.duplicate());
        setEntry(index, id);
        return counted(isNew ? new PutResult(id, true, stored.remaining()) : new PutResult(id, false, 0));
    }

    /** Counts a newly stored chunk, and commits the batch every {@link #GROUP_COMMIT_CHUNKS} of them. */
    private PutResult counted(PutResult r) throws IOException {
        if (r.newlyStored()) {
            newChunks.increment();
            newChunkBytes.add(r.storedBytes());
            if (sinceGroupCommit.incrementAndGet() % GROUP_COMMIT_CHUNKS == 0) commitBatch();
        }
        return r;
    }

    /**
     * Sets block {@code index} to an existing chunk (for example one read from another manifest, or
     * one this writer stored and has not committed yet). The id is published, then its chunk's
     * existence is checked.
     *
     * @throws NoSuchObjectException if the chunk is not in the repository
     */
    public void set(long index, ChunkId id) throws IOException {
        checkIndex(index);
        if (!id.isZero()) {
            registration.publishChunk(id);
            if (!chunkWrites.holds(id) && !repo.chunks().contains(id)) throw new NoSuchObjectException(ChunkCodec.Type.CHUNK.keyOf(id), repo.backend().describe());
        }
        setEntry(index, id);
    }

    /** Sets block {@code index} to zeros (trimmed or zeroed on the disk). */
    public void setZero(long index) throws IOException {
        checkIndex(index);
        setEntry(index, ChunkId.ZERO);
    }

    private void setEntry(long index, ChunkId id) throws IOException {
        int page = (int) (index / pageEntries);
        int slot = (int) (index % pageEntries) * 4;
        long[] words = dirtyPage(page);
        synchronized (this) {
            ensureOpen();
            words[slot] = id.w0();
            words[slot + 1] = id.w1();
            words[slot + 2] = id.w2();
            words[slot + 3] = id.w3();
        }
    }

    /** The mutable entries of page {@code k}, loading it from the parent's page the first time. */
    private long[] dirtyPage(int k) throws IOException {
        ChunkId id;
        synchronized (this) {
            ensureOpen();
            long[] words = dirty.get(k);
            if (words != null) return words;
            id = pageIds[k];
            if (id.isZero()) {
                words = new long[pageEntries * 4];
                dirty.put(k, words);
                return words;
            }
        }
        long[] loaded = repo.cachedPage(id, pageEntries).clone(); // outside the lock; one load per page at a time
        synchronized (this) {
            ensureOpen();
            long[] words = dirty.get(k);
            if (words != null) return words;
            baseNonZero -= countNonZero(loaded);
            dirty.put(k, loaded);
            return loaded;
        }
    }

    /**
     * Writes the changed pages, then the root, each durable, and deregisters the writer. After it
     * returns the manifest exists and the catalog may call the snapshot NORMAL. If it throws, nothing
     * refers to the objects written so far; the writer stays open, so commit may be retried or the
     * writer closed.
     *
     * @return the new manifest's id
     */
    /** Where {@link #commit}'s time went, in milliseconds: storing the pages, the last pack, the group commit's sync, the root. */
    public record CommitTimes(long pagesMillis, long packMillis, long syncMillis, long rootMillis) {
        @Override
        public String toString() {
            return "pages:" + pagesMillis + "/pack:" + packMillis + "/sync:" + syncMillis + "/root:" + rootMillis; // one token in a log line
        }
    }

    private volatile CommitTimes commitTimes;

    /** The last {@link #commit}'s times, null before one succeeded. */
    public CommitTimes commitTimes() {
        return commitTimes;
    }

    public ManifestId commit() throws IOException {
        long t0 = System.nanoTime();
        TreeMap<Integer, long[]> pages;
        long nonZero;
        synchronized (this) {
            ensureOpen();
            state = State.COMMITTING;
            pages = new TreeMap<>(dirty);
            nonZero = baseNonZero;
        }
        boolean done = false;
        try {
            ChunkCodec codec = repo.codec();
            ChunkId[] ids = pageIds.clone();
            LongAdder newPageBytes = new LongAdder();
            List<Map.Entry<Integer, long[]>> toStore = new ArrayList<>();
            for (var e : pages.entrySet()) {
                int count = countNonZero(e.getValue());
                nonZero += count;
                if (count == 0) ids[e.getKey()] = ChunkId.ZERO; // an all-zero page is not stored
                else toStore.add(e);
            }
            // pages are independent objects: hashed, compressed and written to temp files on all cores
            try {
                toStore.parallelStream().forEach(e -> {
                    try {
                        ids[e.getKey()] = storePage(e.getValue(), newPageBytes);
                    } catch (IOException io) {
                        throw new UncheckedIOException(io);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            // the last chunks and the pages, durable and visible in one group commit before the root names them
            // (a page may be linked before a chunk it names, but nothing reads a page before its root exists)
            long t1 = System.nanoTime();
            long t2 = commitBatch();
            long t3 = System.nanoTime();
            long logical = nonZero * blockSize;
            int tailLength = (int) (diskSize - (entryCount - 1) * blockSize);
            if (entryCount > 0 && tailLength < blockSize && !lastEntry(ids, pages).isZero()) logical -= blockSize - tailLength;
            ManifestRoot root = new ManifestRoot(blockSize, diskSize, pageEntries, repo.clock().instant(), parentId, logical, nonZero,
                    newChunks.sum(), newChunkBytes.sum(), newPageBytes.sum(), metadata, ids);
            byte[] plain = root.encode();
            ChunkId rootId = codec.contentId(plain, 0, plain.length);
            repo.backend().putIfAbsent(ChunkCodec.Type.ROOT.keyOf(rootId), codec.encode(ChunkCodec.Type.ROOT, rootId, plain));
            long t4 = System.nanoTime();
            commitTimes = new CommitTimes((t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000, (t4 - t3) / 1_000_000);
            synchronized (this) {
                System.arraycopy(ids, 0, pageIds, 0, ids.length);
                state = State.COMMITTED;
            }
            done = true;
            batch.close();
            registration.close(); // only now: the root is durable and GC will see it
            // committed: these pages never change again, and the next snapshot of this disk starts from them
            for (var e : pages.entrySet()) {
                if (!ids[e.getKey()].isZero()) repo.committedPage(ids[e.getKey()], e.getValue());
            }
            return new ManifestId(rootId);
        } finally {
            if (!done) {
                synchronized (this) {
                    state = State.OPEN;
                }
            }
        }
    }

    /** Puts one changed, not all-zero page in the batch unless the repository has it; returns its id. */
    private ChunkId storePage(long[] words, LongAdder newPageBytes) throws IOException {
        ChunkCodec codec = repo.codec();
        byte[] plain = new byte[words.length * 8];
        ByteBuffer.wrap(plain).asLongBuffer().put(words);
        ChunkId pageId = codec.contentId(plain, 0, plain.length);
        registration.publishPage(pageId);
        ObjectKey key = ChunkCodec.Type.PAGE.keyOf(pageId);
        if (!batch.holds(key) && !repo.backend().exists(key)) {
            ByteBuffer encoded = codec.encode(ChunkCodec.Type.PAGE, pageId, plain);
            long size = encoded.remaining();
            if (batch.putIfAbsent(key, encoded)) newPageBytes.add(size);
        }
        return pageId;
    }

    /** A group commit: the chunks handed over so far, and the pages put, durable; then the chunks findable. */
    /** Writes the last pack and commits the batch; returns when (nanoTime) the pack was written and the sync began. */
    private long commitBatch() throws IOException {
        synchronized (chunkWrites) { // one at a time: what a flush hands over must be in the commit that follows it
            chunkWrites.flush();
            long packed = System.nanoTime();
            batch.commit();
            chunkWrites.committed();
            return packed;
        }
    }

    private ChunkId lastEntry(ChunkId[] ids, Map<Integer, long[]> pages) throws IOException {
        int last = ids.length - 1;
        int slot = (int) ((entryCount - 1) % pageEntries) * 4;
        long[] words = pages.get(last);
        if (words == null) {
            if (ids[last].isZero()) return ChunkId.ZERO;
            words = repo.readPage(ids[last], pageEntries);
        }
        return new ChunkId(words[slot], words[slot + 1], words[slot + 2], words[slot + 3]);
    }

    /** Abandons an uncommitted writer (its objects become garbage); after commit, does nothing. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (state == State.COMMITTED || state == State.CLOSED) return;
            state = State.CLOSED;
            dirty.clear();
        }
        batch.close(); // uncommitted chunks and packs: their temp files go
        registration.close();
    }

    private void checkIndex(long index) {
        if (index < 0 || index >= entryCount) throw new IndexOutOfBoundsException("block " + index + " outside 0.." + (entryCount - 1));
    }

    private synchronized void ensureOpen() {
        if (state != State.OPEN) throw new IllegalStateException("manifest writer is " + state.name().toLowerCase());
    }

    static int countNonZero(long[] words) {
        int n = 0;
        for (int i = 0; i < words.length; i += 4) {
            if ((words[i] | words[i + 1] | words[i + 2] | words[i + 3]) != 0) n++;
        }
        return n;
    }
}
