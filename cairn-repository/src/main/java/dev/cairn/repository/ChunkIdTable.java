package dev.cairn.repository;

import java.util.function.Consumer;

/**
 * A compact hash table from {@link ChunkId} to an {@code int}, or a set when the values are unused:
 * open addressing with linear probing over one {@code long[]} (4 words per id) and one {@code int[]},
 * about 46 bytes per id at the maximum load — a tenth of a {@code HashMap<ChunkId,Integer>}. GC's
 * mark set and space accounting's owner map hold every chunk id of a repository, so this matters.
 *
 * <p>{@link ChunkId#ZERO} marks an empty slot and cannot be stored (it is never a stored id).
 * Not thread-safe.
 */
final class ChunkIdTable {

    private static final double MAX_LOAD = 0.7;

    private long[] keys;
    private int[] values;
    private int mask;
    private int size;

    ChunkIdTable() {
        this(1024);
    }

    ChunkIdTable(int expected) {
        long wanted = Math.max(16, Math.min(1L << 29, (long) (expected / MAX_LOAD) + 1));
        allocate(Integer.highestOneBit((int) wanted - 1) << 1);
    }

    private void allocate(int capacity) {
        keys = new long[capacity * 4];
        values = new int[capacity];
        mask = capacity - 1;
        size = 0;
    }

    int size() {
        return size;
    }

    /** Adds {@code id}; true if it was absent. */
    boolean add(ChunkId id) {
        return put(id, 0, false);
    }

    /** Sets the value of {@code id} (inserting it); true if it was absent. */
    boolean put(ChunkId id, int value) {
        return put(id, value, true);
    }

    private boolean put(ChunkId id, int value, boolean overwrite) {
        if (id.isZero()) throw new IllegalArgumentException("the ZERO id is never stored");
        int slot = find(id);
        if (slot >= 0) {
            if (overwrite) values[slot] = value;
            return false;
        }
        slot = -slot - 1;
        int k = slot * 4;
        keys[k] = id.w0();
        keys[k + 1] = id.w1();
        keys[k + 2] = id.w2();
        keys[k + 3] = id.w3();
        values[slot] = value;
        if (++size > (mask + 1) * MAX_LOAD) grow();
        return true;
    }

    boolean contains(ChunkId id) {
        return !id.isZero() && find(id) >= 0;
    }

    /** The value of {@code id}, or {@code absent} if it is not in the table. */
    int get(ChunkId id, int absent) {
        if (id.isZero()) return absent;
        int slot = find(id);
        return slot >= 0 ? values[slot] : absent;
    }

    void forEach(Consumer<ChunkId> each) {
        for (int slot = 0; slot <= mask; slot++) {
            int k = slot * 4;
            if ((keys[k] | keys[k + 1] | keys[k + 2] | keys[k + 3]) != 0) each.accept(new ChunkId(keys[k], keys[k + 1], keys[k + 2], keys[k + 3]));
        }
    }

    interface EntryVisitor {
        void accept(ChunkId id, int value);
    }

    void forEachEntry(EntryVisitor each) {
        for (int slot = 0; slot <= mask; slot++) {
            int k = slot * 4;
            if ((keys[k] | keys[k + 1] | keys[k + 2] | keys[k + 3]) != 0) {
                each.accept(new ChunkId(keys[k], keys[k + 1], keys[k + 2], keys[k + 3]), values[slot]);
            }
        }
    }

    /** The slot holding {@code id}, or {@code -(free slot) - 1}. */
    private int find(ChunkId id) {
        // The ids are hashes already: the low bits of one word spread well.
        int slot = (int) (id.w1() ^ (id.w1() >>> 32)) & mask;
        while (true) {
            int k = slot * 4;
            long a = keys[k];
            long b = keys[k + 1];
            long c = keys[k + 2];
            long d = keys[k + 3];
            if ((a | b | c | d) == 0) return -slot - 1;
            if (a == id.w0() && b == id.w1() && c == id.w2() && d == id.w3()) return slot;
            slot = (slot + 1) & mask;
        }
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldValues = values;
        int oldCapacity = mask + 1;
        if (oldCapacity >= 1 << 29) throw new IllegalStateException("chunk id table is full");
        allocate(oldCapacity * 2);
        for (int slot = 0; slot < oldCapacity; slot++) {
            int k = slot * 4;
            if ((oldKeys[k] | oldKeys[k + 1] | oldKeys[k + 2] | oldKeys[k + 3]) != 0) {
                put(new ChunkId(oldKeys[k], oldKeys[k + 1], oldKeys[k + 2], oldKeys[k + 3]), oldValues[slot], true);
            }
        }
    }
}
