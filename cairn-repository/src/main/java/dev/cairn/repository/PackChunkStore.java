package dev.cairn.repository;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Format 2: chunks packed many to an object ({@code packs/<2 hex>/<name>}, about 16 MiB each), found
 * through an in-memory {@link PackIndex} that index objects ({@code index/<id>}) let an open build
 * without reading every pack. Layout in {@link PackFormat}; rules in {@code docs/repository-format.md}.
 *
 * <p><b>What stays true.</b> A pack is self-describing (its trailer), so index objects are a cache: an
 * index entry counts only if its pack exists, and a pack no index object covers has its trailer read
 * at open. A chunk becomes findable only after the batch holding its pack committed (durable). A pack
 * is deleted only when the index holds none of its chunks — GC first moves the live chunks of a mostly
 * dead pack into a new one — and only after index objects that no longer list it are durable.
 *
 * <p><b>Threads.</b> Thread-safe. A refresh of the index from the backend and GC's final deletions
 * exclude each other, so a refresh never brings back a pack or chunk GC has just removed.
 */
final class PackChunkStore implements ChunkStore {

    private static final Logger log = LoggerFactory.getLogger(PackChunkStore.class);
    private static final HexFormat HEX = HexFormat.of();
    /** Packs are sealed at about this size (restic's default too): few objects, reads still fine-grained. */
    static final int DEFAULT_TARGET_PACK_BYTES = 16 * 1024 * 1024;
    /** GC rewrites a pack when at least this share of it is garbage. */
    static final double REWRITE_GARBAGE_SHARE = 0.2;
    /** Entries per index object GC writes (about 2.5 MiB). */
    static final int INDEX_ENTRIES_PER_OBJECT = 65_536;
    /** More index objects than this and GC rewrites them into few, even with nothing deleted. */
    static final int CONSOLIDATE_INDEX_OBJECTS = 256;
    /** {@link #getAll}: chunks of one pack this close together are read with one request (the gap is read and dropped). */
    static final int READ_GAP_BYTES = 128 * 1024;
    /** {@link #getAll}: the most one request reads (under 1 MiB: a larger buffer is a "humongous" object to G1, and each one started a collection). */
    static final int READ_MAX_BYTES = 1024 * 1024 - 64 * 1024;

    private final Backend backend;
    private final ChunkCodec codec;
    private final int targetPackBytes;
    private static final int PAGE = 4096;
    /**
     * Pack buffers between packs: native memory, so a sealed pack goes to its file in one write with no
     * copy into a temporary buffer, and no pack is a "humongous" heap object to G1 (each allocation of
     * one could start a collection); reused, as a capture seals about one pack per 16 MiB stored.
     */
    private final java.util.concurrent.ArrayBlockingQueue<ByteBuffer> spareBuffers = new java.util.concurrent.ArrayBlockingQueue<>(4);
    private final int blockSize;
    private final java.time.InstantSource clock;
    private final PackIndex index = new PackIndex();
    private final Object refreshLock = new Object();
    /** When the last refresh began (guarded by refreshLock): a miss after it needs a refresh of its own. */
    private long lastRefreshStarted = System.nanoTime();
    /** Index objects or trailers found damaged at open or refresh, for verify. Guarded by refreshLock. */
    private final Map<ObjectKey, Problem> damaged = new HashMap<>();
    private volatile boolean droppedSinceRewrite;

    private PackChunkStore(Backend backend, ChunkCodec codec, int blockSize, int targetPackBytes, java.time.InstantSource clock) {
        this.backend = backend;
        this.clock = clock;
        this.codec = codec;
        this.blockSize = blockSize;
        this.targetPackBytes = targetPackBytes;
    }

    /** Opens the store: reads the index objects, and the trailers of packs they do not cover. */
    static PackChunkStore open(Backend backend, ChunkCodec codec, int blockSize, int targetPackBytes, java.time.InstantSource clock) throws IOException {
        PackChunkStore store = new PackChunkStore(backend, codec, blockSize, targetPackBytes, clock);
        synchronized (store.refreshLock) {
            store.load();
        }
        return store;
    }

    static ObjectKey packKey(String name) {
        return new ObjectKey(ObjectKind.PACK, name);
    }

    private static ObjectKey chunkKey(ChunkId id) {
        return ChunkCodec.Type.CHUNK.keyOf(id);
    }

    // ---------------------------------------------------------------- loading

    /** Adds what the backend holds and the index does not know yet. Caller holds refreshLock. */
    private void load() throws IOException {
        long t0 = System.nanoTime();
        Map<String, ObjectInfo> listed = new HashMap<>();
        backend.list(ObjectKind.PACK, info -> listed.put(info.key().name(), info));
        List<ObjectInfo> indexObjects = new ArrayList<>();
        backend.list(ObjectKind.INDEX, indexObjects::add);
        Set<String> known = index.snapshotIndexObjectNames();
        int read = 0;
        for (ObjectInfo info : indexObjects) {
            String name = info.key().name();
            if (known.contains(name)) continue;
            List<PackFormat.PackEntries> packs;
            try {
                byte[] plain = codec.decode(ChunkCodec.Type.INDEX, ChunkId.parse(name), backend.get(info.key()), ChunkCodec.MAX_PLAINTEXT);
                packs = PackFormat.parseIndex(info.key(), plain);
            } catch (NoSuchObjectException e) {
                continue; // deleted since the listing (a GC rewrote it)
            } catch (CorruptObjectException e) {
                log.warn("{}: {}; the packs it lists are read from their trailers instead", backend.describe(), e.getMessage());
                damaged.put(info.key(), new Problem(info.key(), Problem.Kind.CORRUPT, e.getMessage()));
                continue;
            }
            List<String> names = new ArrayList<>();
            for (PackFormat.PackEntries p : packs) {
                ObjectInfo pack = listed.get(p.pack());
                if (pack == null) continue; // deleted after the index was written: its entries do not count
                index.addPack(p.pack(), pack.size(), pack.lastModified(), p.entries(), false);
                names.add(p.pack());
            }
            index.addIndexObject(name, names);
            read++;
        }
        List<PackFormat.PackEntries> recovered = new ArrayList<>();
        for (ObjectInfo pack : listed.values()) {
            String name = pack.key().name();
            if (index.knowsPack(name) || damaged.containsKey(pack.key())) continue;
            try {
                List<PackFormat.Entry> entries = readTrailer(pack.key(), pack.size());
                index.addPack(name, pack.size(), pack.lastModified(), entries, false);
                recovered.add(new PackFormat.PackEntries(name, entries));
            } catch (NoSuchObjectException e) {
                // deleted since the listing
            } catch (CorruptObjectException e) {
                log.warn("{}: {}; its chunks cannot be found", backend.describe(), e.getMessage());
                damaged.put(pack.key(), new Problem(pack.key(), Problem.Kind.CORRUPT, e.getMessage()));
            }
        }
        if (!recovered.isEmpty()) {
            // Packs without an index object: a capture that crashed after storing them, or lost index
            // objects. Index them now so the next open need not read their trailers again.
            try {
                writeIndexObjects(recovered);
            } catch (IOException e) {
                log.warn("{}: could not write an index object for {} packs read from their trailers: {}", backend.describe(), recovered.size(), e.toString());
            }
        }
        log.info("{}: pack index loaded: {} packs, {} index objects read, {} packs read from their trailers, in {} ms",
                backend.describe(), index.packCount(), read, recovered.size(), (System.nanoTime() - t0) / 1_000_000);
    }

    private List<PackFormat.Entry> readTrailer(ObjectKey pack, long size) throws IOException {
        if (size < PackFormat.TAIL_BYTES) throw new CorruptObjectException(pack, "pack of " + size + " bytes is shorter than its trailer");
        int length = PackFormat.trailerLength(pack, size, backend.get(pack, size - PackFormat.TAIL_BYTES, PackFormat.TAIL_BYTES));
        return PackFormat.parseTrailer(pack, size, backend.get(pack, size - length, length));
    }

    /** Writes index objects (durable) listing {@code packs}, and records them. */
    private List<String> writeIndexObjects(List<PackFormat.PackEntries> packs) throws IOException {
        List<String> written = new ArrayList<>();
        List<PackFormat.PackEntries> group = new ArrayList<>();
        int entries = 0;
        for (int i = 0; i <= packs.size(); i++) {
            PackFormat.PackEntries p = i < packs.size() ? packs.get(i) : null;
            if (!group.isEmpty() && (p == null || entries + p.entries().size() > INDEX_ENTRIES_PER_OBJECT)) {
                byte[] plain = PackFormat.indexPlaintext(group);
                ChunkId id = codec.contentId(plain, 0, plain.length);
                backend.putIfAbsent(ChunkCodec.Type.INDEX.keyOf(id), codec.encode(ChunkCodec.Type.INDEX, id, plain));
                index.addIndexObject(id.toString(), group.stream().map(PackFormat.PackEntries::pack).toList());
                written.add(id.toString());
                group.clear();
                entries = 0;
            }
            if (p != null) {
                group.add(p);
                entries += p.entries().size();
            }
        }
        return written;
    }

    /**
     * Reads what other processes stored since (a chunk a manifest names must be somewhere). Misses that
     * come together share one refresh: one that began after a caller's miss already covers it.
     */
    private void refresh() throws IOException {
        long missed = System.nanoTime();
        synchronized (refreshLock) {
            if (lastRefreshStarted - missed > 0) return;
            lastRefreshStarted = System.nanoTime();
            load();
        }
    }

    // ---------------------------------------------------------------- reading

    /** Where the chunk is (null: not findable); for tests and messages. */
    PackIndex.Location locate(ChunkId id) {
        return index.find(id);
    }

    @Override
    public boolean contains(ChunkId id) {
        return index.contains(id);
    }

    @Override
    public ByteBuffer get(ChunkId id) throws IOException {
        PackIndex.Location tried = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            PackIndex.Location at = index.find(id);
            if (at == null || at.equals(tried)) {
                refresh();
                at = index.find(id);
            }
            if (at == null) break;
            if (at.equals(tried)) throw new NoSuchObjectException(packKey(at.pack()), backend.describe() + " (it holds chunk " + id.shortForm() + ")");
            try {
                return backend.get(packKey(at.pack()), at.offset(), at.length());
            } catch (NoSuchObjectException e) {
                tried = at; // GC moved the chunk and deleted the pack since the lookup: look again
            } catch (java.io.EOFException e) {
                throw new CorruptObjectException(packKey(at.pack()), "chunk " + id.shortForm() + " at " + at.offset() + "+" + at.length() + " lies past the pack's end");
            }
        }
        throw new NoSuchObjectException(chunkKey(id), backend.describe());
    }

    /**
     * Looks every chunk up, then reads the chunks of each pack in offset order, one request per run of
     * neighbours (a stretch of a full snapshot's blocks usually lies in one stretch of one pack). A chunk
     * not found, or whose pack is gone or too short, is fetched alone by {@link #get}, which looks again
     * and reports exactly what is wrong.
     */
    @Override
    public ByteBuffer[] getAll(ChunkId[] ids) throws IOException {
        ByteBuffer[] out = new ByteBuffer[ids.length];
        PackIndex.Location[] at = new PackIndex.Location[ids.length];
        for (Run run : runs(ids, at)) {
            ByteBuffer bytes;
            try {
                bytes = backend.get(packKey(run.pack()), run.start(), (int) (run.end() - run.start()));
            } catch (NoSuchObjectException | java.io.EOFException e) {
                continue; // moved by GC since the lookup, or damaged: each chunk alone, below
            }
            for (int i : run.members()) out[i] = bytes.slice((int) (at[i].offset() - run.start()), at[i].length());
        }
        for (int i = 0; i < ids.length; i++) if (out[i] == null) out[i] = get(ids[i]);
        return out;
    }

    /** Asks the backend to fetch, in the background, the runs of packs that {@link #getAll} of these chunks would read. */
    @Override
    public void willRead(ChunkId[] ids) {
        for (Run run : runs(ids, new PackIndex.Location[ids.length])) backend.willRead(packKey(run.pack()), run.start(), run.end() - run.start());
    }

    /** Neighbouring chunks of one pack, read with one request: the byte range, and which of the caller's chunks it holds. */
    private record Run(String pack, long start, long end, List<Integer> members) {}

    /** Looks each chunk up (into {@code at}; null if not findable) and groups the found ones into runs. */
    private List<Run> runs(ChunkId[] ids, PackIndex.Location[] at) {
        // per pack, its chunks as (offset << 32 | caller's index), sorted: a primitive sort (a comparator sort here
        // was compiled again and again by the JIT during a flatten); offsets and indexes are non-negative ints
        Map<String, List<Integer>> byPack = new LinkedHashMap<>();
        for (int i = 0; i < ids.length; i++) {
            at[i] = index.find(ids[i]);
            if (at[i] != null) byPack.computeIfAbsent(at[i].pack(), pack -> new ArrayList<>()).add(i);
        }
        List<Run> runs = new ArrayList<>();
        for (Map.Entry<String, List<Integer>> pack : byPack.entrySet()) {
            long[] keys = new long[pack.getValue().size()];
            for (int k = 0; k < keys.length; k++) {
                int i = pack.getValue().get(k);
                keys[k] = (long) at[i].offset() << 32 | i;
            }
            Arrays.sort(keys);
            for (int g = 0; g < keys.length; ) {
                PackIndex.Location first = at[(int) keys[g]];
                long start = first.offset();
                long end = start + first.length();
                List<Integer> members = new ArrayList<>();
                members.add((int) keys[g]);
                int h = g + 1;
                while (h < keys.length) {
                    PackIndex.Location next = at[(int) keys[h]];
                    long nextEnd = Math.max(end, (long) next.offset() + next.length());
                    if (next.offset() > end + READ_GAP_BYTES || nextEnd - start > READ_MAX_BYTES) break;
                    end = nextEnd;
                    members.add((int) keys[h++]);
                }
                runs.add(new Run(pack.getKey(), start, end, members));
                g = h;
            }
        }
        return runs;
    }

    /** Each chunk's time is its pack's, as the backend lists it now (what GC's cutoff is measured against). */
    @Override
    public void list(Consumer<ObjectInfo> each) throws IOException {
        Map<String, Instant> stored = packTimes();
        List<ObjectInfo> all = new ArrayList<>();
        index.forEachLive((id, at) -> all.add(new ObjectInfo(chunkKey(id), at.length(), stored.getOrDefault(at.pack(), at.stored()))));
        all.forEach(each); // outside the index's lock: the consumer may do anything
    }

    /** Every pack's last-modified time as the backend lists it. */
    private Map<String, Instant> packTimes() throws IOException {
        Map<String, Instant> stored = new HashMap<>();
        backend.list(ObjectKind.PACK, info -> stored.put(info.key().name(), info.lastModified()));
        return stored;
    }

    @Override
    public void delete(ChunkId id) {
        if (index.drop(id)) droppedSinceRewrite = true;
    }

    // ---------------------------------------------------------------- writing

    @Override
    public Writes writes(Backend.Batch batch) {
        return new PackWrites(batch, false);
    }

    /** A pack buffer with room for {@code need} bytes: a spare one, or a new one a little larger than a pack. */
    private ByteBuffer packBuffer(int need) {
        ByteBuffer spare = spareBuffers.poll();
        if (spare != null && spare.capacity() >= need) return spare.clear();
        int capacity = Math.max(need + need / 2, targetPackBytes + targetPackBytes / 8);
        return ByteBuffer.allocateDirect(capacity + 2 * PAGE).alignedSlice(PAGE); // page-aligned (a local backend writes it with O_DIRECT), at least capacity long
    }

    /** Keeps a pack buffer for the next pack (a full pool, or an oversized buffer, leaves it to the GC). */
    private void recycle(ByteBuffer buffer) {
        if (buffer.capacity() <= 2 * targetPackBytes) spareBuffers.offer(buffer);
    }

    /**
     * One writer's packs: chunks are appended to an open pack, which is sealed (trailer added) and handed
     * to the batch when it reaches the target size or at {@link #flush}. Each flush also hands over an
     * index object for the packs sealed since the last one; {@link #committed} makes their chunks findable.
     */
    private final class PackWrites implements Writes {
        private final Backend.Batch batch;
        /** GC's rewrite: chunks already findable elsewhere are stored again, and move here at commit. */
        private final boolean move;
        private final Object lock = new Object();
        private ByteBuffer buffer;
        private int used;
        private List<PackFormat.Entry> entries = new ArrayList<>();
        private final Set<ChunkId> held = new HashSet<>();
        private final List<Sealed> handed = new ArrayList<>();
        private final List<Flushed> flushed = new ArrayList<>();

        private record Sealed(String name, long size, List<PackFormat.Entry> entries) {}

        /** One flush: its index object and the packs it lists. */
        private record Flushed(String index, List<Sealed> packs) {}

        PackWrites(Backend.Batch batch, boolean move) {
            this.batch = batch;
            this.move = move;
        }

        @Override
        public boolean holds(ChunkId id) {
            synchronized (lock) {
                return held.contains(id);
            }
        }

        @Override
        public boolean put(ChunkId id, ByteBuffer encoded) throws IOException {
            checkIntact();
            if (!move && index.contains(id)) return false;
            int length = encoded.remaining();
            ByteBuffer full = null;
            int fullUsed = 0;
            List<PackFormat.Entry> fullEntries = null;
            synchronized (lock) {
                if (!held.add(id)) return false;
                if (used > 0 && used + length > targetPackBytes) {
                    full = buffer;
                    fullUsed = used;
                    fullEntries = entries;
                    buffer = null;
                    used = 0;
                    entries = new ArrayList<>();
                }
                int need = used + length + (entries.size() + 1) * PackFormat.ENTRY_BYTES + PackFormat.TRAILER_FIXED_BYTES;
                if (buffer == null || buffer.capacity() < need) {
                    // one buffer per pack as a rule (room for its trailer too); more only for packs of tiny chunks
                    ByteBuffer bigger = packBuffer(need);
                    if (buffer != null) {
                        bigger.put(0, buffer, 0, used);
                        recycle(buffer);
                    }
                    buffer = bigger;
                }
                buffer.put(used, encoded, encoded.position(), length);
                entries.add(new PackFormat.Entry(id, used, length));
                used += length;
            }
            if (full != null) seal(full, fullUsed, fullEntries);
            return true;
        }

        /**
         * After a pack could not be handed to the batch, its chunks are neither stored nor free to be
         * put again (this writer holds their ids): every later put and flush fails, so the writer's
         * manifest can never name them.
         */
        private volatile IOException broken;

        private void checkIntact() throws IOException {
            IOException e = broken;
            if (e != null) throw new IOException("an earlier pack of this writer could not be stored: " + e.getMessage(), e);
        }

        /** Puts an object through the batch; a failure breaks this writer (see {@link #broken}). */
        private void hand(ObjectKey key, ByteBuffer bytes) throws IOException {
            try {
                batch.putIfAbsent(key, bytes);
            } catch (IOException | RuntimeException e) {
                broken = e instanceof IOException io ? io : new IOException(e);
                throw e;
            }
        }

        /** Appends the trailer and hands the pack to the batch (which keeps no reference to the buffer: it is reused). */
        private void seal(ByteBuffer data, int dataBytes, List<PackFormat.Entry> packEntries) throws IOException {
            byte[] trailer = PackFormat.trailer(packEntries);
            data.put(dataBytes, trailer); // room was kept for it
            int size = dataBytes + trailer.length;
            String name = HEX.formatHex(Crypto.randomBytes(32));
            try {
                hand(packKey(name), data.slice(0, size));
            } finally {
                recycle(data);
            }
            synchronized (lock) {
                handed.add(new Sealed(name, size, packEntries));
            }
        }

        @Override
        public void flush() throws IOException {
            checkIntact();
            ByteBuffer data;
            int dataBytes;
            List<PackFormat.Entry> packEntries;
            synchronized (lock) {
                data = buffer;
                dataBytes = used;
                packEntries = entries;
                buffer = null;
                used = 0;
                entries = new ArrayList<>();
            }
            if (dataBytes > 0) seal(data, dataBytes, packEntries);
            List<Sealed> packs;
            synchronized (lock) {
                packs = List.copyOf(handed);
                handed.clear();
            }
            if (packs.isEmpty()) return;
            List<PackFormat.PackEntries> listed = packs.stream().map(s -> new PackFormat.PackEntries(s.name(), s.entries())).toList();
            byte[] plain = PackFormat.indexPlaintext(listed);
            ChunkId id = codec.contentId(plain, 0, plain.length);
            hand(ChunkCodec.Type.INDEX.keyOf(id), codec.encode(ChunkCodec.Type.INDEX, id, plain));
            synchronized (lock) {
                flushed.add(new Flushed(id.toString(), packs));
            }
        }

        @Override
        public void committed() {
            List<Flushed> done;
            synchronized (lock) {
                done = List.copyOf(flushed);
                flushed.clear();
            }
            Instant now = clock.instant(); // about what the backend lists as their time
            for (Flushed f : done) {
                for (Sealed s : f.packs()) index.addPack(s.name(), s.size(), now, s.entries(), move);
                index.addIndexObject(f.index(), f.packs().stream().map(Sealed::name).toList());
            }
            synchronized (lock) {
                for (Flushed f : done) for (Sealed s : f.packs()) for (PackFormat.Entry e : s.entries()) held.remove(e.id());
            }
        }
    }

    // ---------------------------------------------------------------- GC

    @Override
    public void finishSweep(Instant cutoff, Cancellation cancel) throws IOException {
        Map<String, Instant> stored = packTimes();
        PackIndex.Stats stats = index.stats();
        List<PackIndex.Pack> dead = new ArrayList<>();
        List<PackIndex.Pack> sparse = new ArrayList<>();
        for (PackIndex.Pack p : stats.packs()) {
            Instant time = stored.get(p.name);
            if (time == null || !time.isBefore(cutoff)) continue; // may belong to a writer in flight (or is gone)
            if (p.liveChunks == 0) dead.add(p);
            else if (p.size - p.liveBytes >= p.size * REWRITE_GARBAGE_SHARE) sparse.add(p);
        }
        if (dead.isEmpty() && sparse.isEmpty() && !droppedSinceRewrite && stats.indexObjects() <= CONSOLIDATE_INDEX_OBJECTS) {
            return;
        }
        PackIndex.Snapshot before = index.snapshot();
        // 1. Live chunks of mostly-dead packs move to new packs (durable, findable at their new place).
        long rewrittenBytes = 0;
        if (!sparse.isEmpty()) {
            try (Backend.Batch batch = backend.batch()) {
                PackWrites moves = new PackWrites(batch, true);
                for (PackIndex.Pack p : sparse) {
                    cancel.check();
                    ByteBuffer pack = backend.get(packKey(p.name));
                    for (PackFormat.Entry e : before.liveEntries().getOrDefault(p.name, List.of())) {
                        ByteBuffer object = pack.slice(e.offset(), e.length());
                        try {
                            codec.decode(ChunkCodec.Type.CHUNK, e.id(), object, blockSize);
                        } catch (CorruptObjectException damagedChunk) {
                            // moving it would launder the damage into a fresh pack; verify reports it where it is
                            throw new CorruptObjectException(packKey(p.name), "chunk " + e.id().shortForm() + " is damaged ("
                                    + damagedChunk.getMessage() + "); not rewriting the pack — run verify");
                        }
                        moves.put(e.id(), object);
                        rewrittenBytes += e.length();
                    }
                    moves.flush();
                    batch.commit();
                    moves.committed();
                }
            }
        }
        cancel.check();
        // 2. Index objects that list only what stays; then the old ones go; then the packs.
        Set<String> goingAway = new HashSet<>();
        long freed = 0;
        for (PackIndex.Pack p : dead) {
            goingAway.add(p.name);
            freed += p.size;
        }
        for (PackIndex.Pack p : sparse) {
            goingAway.add(p.name);
            freed += p.size;
        }
        synchronized (refreshLock) {
            PackIndex.Snapshot now = index.snapshot();
            List<PackFormat.PackEntries> keep = new ArrayList<>();
            for (PackIndex.Pack p : now.packs()) {
                List<PackFormat.Entry> live = now.liveEntries().get(p.name);
                if (!goingAway.contains(p.name) && live != null) keep.add(new PackFormat.PackEntries(p.name, live));
            }
            droppedSinceRewrite = false;
            List<String> written = writeIndexObjects(keep);
            List<String> old = new ArrayList<>(now.indexObjects().keySet());
            old.removeAll(written);
            for (String name : old) backend.delete(new ObjectKey(ObjectKind.INDEX, name));
            index.removeIndexObjects(old);
            for (String name : goingAway) backend.delete(packKey(name));
            index.removePacks(goingAway);
        }
        log.info("{}: packs after gc: {} deleted ({} of them rewritten first), {} bytes freed; index rewritten",
                backend.describe(), goingAway.size(), sparse.size(), Math.max(0, freed - rewrittenBytes));
    }

    // ---------------------------------------------------------------- verify

    @Override
    public void verifyStructure(Consumer<Problem> problems, Cancellation cancel) throws IOException {
        synchronized (refreshLock) {
            damaged.values().forEach(problems);
        }
        PackIndex.Snapshot s = index.snapshot();
        for (PackIndex.Pack p : s.packs()) {
            cancel.check();
            ObjectKey key = packKey(p.name);
            try {
                Map<ChunkId, PackFormat.Entry> trailer = new HashMap<>();
                for (PackFormat.Entry e : readTrailer(key, p.size)) trailer.put(e.id(), e);
                for (PackFormat.Entry e : s.liveEntries().getOrDefault(p.name, List.of())) {
                    if (!e.equals(trailer.get(e.id()))) {
                        problems.accept(new Problem(key, Problem.Kind.CORRUPT, "the index places chunk " + e.id().shortForm() + " where the pack's trailer does not"));
                        break;
                    }
                }
            } catch (NoSuchObjectException e) {
                if (s.liveEntries().containsKey(p.name)) problems.accept(new Problem(key, Problem.Kind.MISSING, "pack holding " + s.liveEntries().get(p.name).size() + " chunks is missing"));
            } catch (CorruptObjectException e) {
                problems.accept(new Problem(key, Problem.Kind.CORRUPT, e.getMessage()));
            } catch (IOException e) {
                problems.accept(new Problem(key, Problem.Kind.UNREADABLE, e.toString()));
            }
        }
    }
}
