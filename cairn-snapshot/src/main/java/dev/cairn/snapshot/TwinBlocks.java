package dev.cairn.snapshot;

import dev.cairn.repository.ChunkId;
import dev.cairn.repository.ManifestReader;
import dev.cairn.volume.BaseImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which blocks of a manifest hold the same bytes (the same stored chunk, zeros aside), so a flatten that
 * fetched, decoded and verified one of them writes the others from those bytes instead of fetching the
 * chunk again. Groups are cut to at most {@code maxGroup} blocks in block order, which bounds what one
 * copy writes beyond itself (a disk of one repeated pattern is many groups, not one).
 *
 * <p><b>How it is built.</b> One pass over the entries packs each stored block as (top bits of its
 * id's first word, block number) into one {@code long}; a sort brings equal prefixes together, in
 * block order, and each run is split by the whole id (a prefix may be shared by chance). Building
 * takes 8 bytes per stored block for the sort (at most {@link #MAX_INDEXED} of them); the result 16 bytes per block that has a twin.
 *
 * <p><b>Threads.</b> Immutable once built.
 */
final class TwinBlocks {
    static final TwinBlocks NONE = new TwinBlocks(new long[0], new int[] {0}, new long[0]);

    /** Blocks with twins, group after group, each group in block order. */
    private final long[] members;
    /** Group g is {@code members[groupStart[g], groupStart[g + 1])}. */
    private final int[] groupStart;
    /** Sorted (block << 32 | group) of every member: finds a block's group by binary search. */
    private final long[] lookup;

    private TwinBlocks(long[] members, int[] groupStart, long[] lookup) {
        this.members = members;
        this.groupStart = groupStart;
        this.lookup = lookup;
    }

    /** A manifest's entries: the chunk id of each block ({@link ChunkId#ZERO} for zeros). */
    @FunctionalInterface
    interface BlockIds {
        ChunkId at(long block) throws IOException;
    }

    /**
     * Stored blocks indexed at most: 8 bytes each while sorting, so 64 MiB (512 GiB of data in 64 KiB
     * blocks); a flatten of a snapshot holding more copies each block as it comes.
     */
    static final long MAX_INDEXED = 1 << 23;

    /** Indexes a manifest's stored blocks. */
    static TwinBlocks of(ManifestReader manifest, int maxGroup) throws IOException {
        return of(manifest.blockCount(), manifest.info().nonZeroBlocks(), manifest::entry, maxGroup);
    }

    /** Indexes {@code stored} stored blocks among {@code count}; none if they are more than {@link #MAX_INDEXED}. */
    static TwinBlocks of(long count, long stored, BlockIds ids, int maxGroup) throws IOException {
        if (maxGroup < 2) throw new IllegalArgumentException("groups of " + maxGroup);
        if (stored > MAX_INDEXED || count >= 1L << 31) return NONE;
        int blockBits = Math.max(1, 64 - Long.numberOfLeadingZeros(count - 1));
        long[] keys = new long[(int) stored];
        int n = 0;
        for (long block = 0; block < count; block++) {
            ChunkId id = ids.at(block);
            if (id.isZero()) continue;
            if (n == keys.length) return NONE; // more stored blocks than the manifest says: no index rather than a partial one
            keys[n++] = (id.w0() >>> blockBits) << blockBits | block;
        }
        Arrays.sort(keys, 0, n);
        long mask = (1L << blockBits) - 1;

        List<long[]> groups = new ArrayList<>();
        for (int i = 0; i < n; ) {
            int j = i + 1;
            while (j < n && keys[j] >>> blockBits == keys[i] >>> blockBits) j++;
            if (j - i > 1) splitByChunk(ids, keys, i, j, mask, maxGroup, groups);
            i = j;
        }

        int total = 0;
        for (long[] g : groups) total += g.length;
        long[] members = new long[total];
        int[] groupStart = new int[groups.size() + 1];
        long[] lookup = new long[total];
        int at = 0;
        for (int g = 0; g < groups.size(); g++) {
            groupStart[g] = at;
            for (long block : groups.get(g)) {
                lookup[at] = block << 32 | g;
                members[at++] = block;
            }
        }
        groupStart[groups.size()] = at;
        Arrays.sort(lookup);
        return new TwinBlocks(members, groupStart, lookup);
    }

    /** Splits one run of equal prefixes (block order) into groups of equal ids, each cut to {@code maxGroup}. */
    private static void splitByChunk(BlockIds ids, long[] sorted, int from, int to, long mask, int maxGroup,
                                     List<long[]> groups) throws IOException {
        boolean[] taken = new boolean[to - from];
        for (int i = from; i < to; i++) {
            if (taken[i - from]) continue;
            ChunkId id = ids.at(sorted[i] & mask);
            long[] same = new long[to - i];
            int n = 0;
            for (int j = i; j < to; j++) {
                if (taken[j - from]) continue;
                long block = sorted[j] & mask;
                if (j == i || ids.at(block).equals(id)) {
                    taken[j - from] = true;
                    same[n++] = block;
                }
            }
            for (int k = 0; k + 1 < n; k += maxGroup) groups.add(Arrays.copyOfRange(same, k, Math.min(n, k + maxGroup)));
        }
    }

    /** The other blocks known to hold {@code block}'s bytes (in block order), or none. */
    long[] of(long block) {
        int at = Arrays.binarySearch(lookup, block << 32);
        if (at < 0) at = -at - 1;
        if (at >= lookup.length || lookup[at] >>> 32 != block) return BaseImage.NO_TWINS;
        int g = (int) lookup[at];
        long[] twins = new long[groupStart[g + 1] - groupStart[g] - 1];
        int n = 0;
        for (int i = groupStart[g]; i < groupStart[g + 1]; i++) if (members[i] != block) twins[n++] = members[i];
        return twins;
    }

    /** Blocks that have at least one twin. */
    int size() {
        return members.length;
    }
}
