package dev.cairn.repository;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Format 2's in-memory index: chunk id → pack, offset, length; and per pack its size, when it was
 * stored and how many of its bytes are still findable chunks ("live"). Built at open from the index
 * objects and the trailers of packs they do not cover; kept current by writers and GC.
 *
 * <p><b>What stays true.</b> An id is findable only after the pack holding it is durable. An id
 * maps to one place at a time (a pack listed twice — after a crash during a rewrite — keeps the first
 * place seen; the other copy is garbage of its pack). About 60 bytes per chunk.
 *
 * <p><b>Threads.</b> Thread-safe: lookups share a read lock, changes take the write lock.
 */
final class PackIndex {

    /** One pack known to the index. {@code liveBytes}/{@code liveChunks} are guarded by the index's lock. */
    static final class Pack {
        final String name;
        final long size;
        final Instant stored;
        long liveBytes;
        int liveChunks;

        Pack(String name, long size, Instant stored) {
            this.name = name;
            this.size = size;
            this.stored = stored;
        }
    }

    record Location(String pack, int offset, int length, Instant stored) {}

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final ChunkIdTable slots = new ChunkIdTable(1 << 12);
    /** Per entry: its pack's number (-1: dropped), offset, length. */
    private int[] entryPack = new int[1 << 12];
    private int[] entryOffset = new int[1 << 12];
    private int[] entryLength = new int[1 << 12];
    private int entries;
    private final List<Pack> packs = new ArrayList<>();
    private final Map<String, Integer> packNumbers = new HashMap<>();
    /** Index objects this index was built from or has written, with the packs each lists. */
    private final Map<String, List<String>> indexObjects = new LinkedHashMap<>();

    private <T> T underReadLock(java.util.function.Supplier<T> read) {
        lock.readLock().lock();
        try {
            return read.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    Location find(ChunkId id) {
        return underReadLock(() -> {
            int e = slots.get(id, -1);
            if (e < 0 || entryPack[e] < 0) return null;
            Pack p = packs.get(entryPack[e]);
            return new Location(p.name, entryOffset[e], entryLength[e], p.stored);
        });
    }

    boolean contains(ChunkId id) {
        return underReadLock(() -> {
            int e = slots.get(id, -1);
            return e >= 0 && entryPack[e] >= 0;
        });
    }

    boolean knowsPack(String name) {
        return underReadLock(() -> packNumbers.containsKey(name));
    }

    /**
     * Adds a durable pack and its entries. An id already findable keeps its place, unless {@code move}
     * (a GC rewrite copied it here).
     */
    void addPack(String name, long size, Instant stored, Collection<PackFormat.Entry> packEntries, boolean move) {
        lock.writeLock().lock();
        try {
            Integer known = packNumbers.get(name);
            if (known != null) return; // listed by two index objects: the first one placed its chunks
            int number = packs.size();
            Pack pack = new Pack(name, size, stored);
            packs.add(pack);
            packNumbers.put(name, number);
            for (PackFormat.Entry entry : packEntries) {
                int e = slots.get(entry.id(), -1);
                if (e >= 0 && entryPack[e] >= 0) {
                    if (!move) continue;
                    Pack old = packs.get(entryPack[e]);
                    old.liveBytes -= entryLength[e];
                    old.liveChunks--;
                } else if (e < 0) {
                    e = entries++;
                    if (e == entryPack.length) grow();
                    slots.put(entry.id(), e);
                }
                entryPack[e] = number;
                entryOffset[e] = entry.offset();
                entryLength[e] = entry.length();
                pack.liveBytes += entry.length();
                pack.liveChunks++;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void grow() {
        int n = entryPack.length * 2;
        entryPack = Arrays.copyOf(entryPack, n);
        entryOffset = Arrays.copyOf(entryOffset, n);
        entryLength = Arrays.copyOf(entryLength, n);
    }

    void addIndexObject(String name, List<String> packNames) {
        lock.writeLock().lock();
        try {
            indexObjects.put(name, List.copyOf(packNames));
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Makes a chunk unfindable (its bytes stay in its pack until the pack is deleted or rewritten); true if it was findable. */
    boolean drop(ChunkId id) {
        lock.writeLock().lock();
        try {
            int e = slots.get(id, -1);
            if (e < 0 || entryPack[e] < 0) return false;
            Pack p = packs.get(entryPack[e]);
            p.liveBytes -= entryLength[e];
            p.liveChunks--;
            entryPack[e] = -1;
            return true;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Every pack's size and live figures (copies), and how many index objects are known: GC's cheap first look. */
    record Stats(List<Pack> packs, int indexObjects) {}

    Stats stats() {
        lock.readLock().lock();
        try {
            List<Pack> copy = new ArrayList<>();
            for (Pack p : packs) {
                if (!packNumbers.containsKey(p.name)) continue;
                Pack c = new Pack(p.name, p.size, p.stored);
                c.liveBytes = p.liveBytes;
                c.liveChunks = p.liveChunks;
                copy.add(c);
            }
            return new Stats(copy, indexObjects.size());
        } finally {
            lock.readLock().unlock();
        }
    }

    /** A consistent picture for GC: every pack with its live entries, and the index objects known now. */
    record Snapshot(List<Pack> packs, Map<String, List<PackFormat.Entry>> liveEntries, Map<String, List<String>> indexObjects) {}

    Snapshot snapshot() {
        lock.readLock().lock();
        try {
            Map<String, List<PackFormat.Entry>> live = new HashMap<>();
            slots.forEachEntry((id, e) -> {
                if (entryPack[e] >= 0) live.computeIfAbsent(packs.get(entryPack[e]).name, k -> new ArrayList<>()).add(new PackFormat.Entry(id, entryOffset[e], entryLength[e]));
            });
            return new Snapshot(stats().packs(), live, new LinkedHashMap<>(indexObjects)); // read locks nest
        } finally {
            lock.readLock().unlock();
        }
    }

    java.util.Set<String> snapshotIndexObjectNames() {
        return underReadLock(() -> new java.util.HashSet<>(indexObjects.keySet()));
    }

    /** Forgets index objects that were deleted. */
    void removeIndexObjects(Collection<String> names) {
        lock.writeLock().lock();
        try {
            indexObjects.keySet().removeAll(names);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Forgets deleted packs; any entry still placed in one is dropped. */
    void removePacks(Collection<String> names) {
        lock.writeLock().lock();
        try {
            java.util.BitSet gone = new java.util.BitSet();
            for (String name : names) {
                Integer number = packNumbers.remove(name);
                if (number == null) continue;
                gone.set(number);
                packs.get(number).liveBytes = 0;
                packs.get(number).liveChunks = 0;
            }
            if (gone.isEmpty()) return;
            slots.forEachEntry((id, e) -> {
                if (entryPack[e] >= 0 && gone.get(entryPack[e])) entryPack[e] = -1;
            });
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Calls {@code each} for every findable chunk. */
    void forEachLive(java.util.function.BiConsumer<ChunkId, Location> each) {
        lock.readLock().lock();
        try {
            slots.forEachEntry((id, e) -> {
                if (entryPack[e] >= 0) {
                    Pack p = packs.get(entryPack[e]);
                    each.accept(id, new Location(p.name, entryOffset[e], entryLength[e], p.stored));
                }
            });
        } finally {
            lock.readLock().unlock();
        }
    }

    int packCount() {
        return underReadLock(packNumbers::size);
    }
}
