package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.ChunkId;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TwinBlocksTest {

    /** The index of {@code ids}, told their true count of stored blocks (as a manifest's root does). */
    private static TwinBlocks index(ChunkId[] ids, int maxGroup) throws IOException {
        long stored = Arrays.stream(ids).filter(id -> !id.isZero()).count();
        return TwinBlocks.of(ids.length, stored, x -> ids[(int) x], maxGroup);
    }

    private static ChunkId id(long n) {
        return new ChunkId(n * 0x9E3779B97F4A7C15L, n, ~n, n * 31);
    }

    @Test
    void blocksOfOneChunkAreEachOthersTwinsAndZerosAndUniqueBlocksHaveNone() throws IOException {
        ChunkId[] ids = {id(1), id(2), ChunkId.ZERO, id(1), ChunkId.ZERO, id(3), id(1), id(2)};
        TwinBlocks twins = index(ids, 16);
        assertThat(twins.of(0)).containsExactly(3, 6);
        assertThat(twins.of(3)).containsExactly(0, 6);
        assertThat(twins.of(6)).containsExactly(0, 3);
        assertThat(twins.of(1)).containsExactly(7);
        assertThat(twins.of(7)).containsExactly(1);
        assertThat(twins.of(2)).isEmpty(); // zeros: never stored, never twins
        assertThat(twins.of(4)).isEmpty();
        assertThat(twins.of(5)).isEmpty();
        assertThat(twins.of(99)).isEmpty();
        assertThat(twins.size()).isEqualTo(5);
    }

    @Test
    void idsThatShareTheirFirstWordAreToldApartByTheWholeId() throws IOException {
        // the index sorts by the first word's top bits: these four share it, two chunks of two blocks each
        ChunkId a = new ChunkId(7, 1, 1, 1), b = new ChunkId(7, 2, 2, 2);
        ChunkId[] ids = {a, b, b, a, id(5)};
        TwinBlocks twins = index(ids, 16);
        assertThat(twins.of(0)).containsExactly(3);
        assertThat(twins.of(1)).containsExactly(2);
        assertThat(twins.of(2)).containsExactly(1);
        assertThat(twins.of(3)).containsExactly(0);
        assertThat(twins.of(4)).isEmpty();
    }

    @Test
    void aChunkHeldByManyBlocksMakesGroupsOfAtMostTheLimitInBlockOrder() throws IOException {
        ChunkId[] ids = new ChunkId[10];
        Arrays.fill(ids, id(9));
        TwinBlocks twins = index(ids, 4);
        assertThat(twins.of(0)).containsExactly(1, 2, 3);
        assertThat(twins.of(5)).containsExactly(4, 6, 7);
        assertThat(twins.of(8)).containsExactly(9);
        assertThat(twins.of(9)).containsExactly(8);
        ChunkId[] odd = new ChunkId[9];
        Arrays.fill(odd, id(9));
        assertThat(index(odd, 4).of(8)).isEmpty(); // a group of one is no group
    }

    @Test
    void agreesWithAPlainMapOnARandomManifest() throws IOException {
        Random r = new Random(11);
        int n = 5000;
        ChunkId[] ids = new ChunkId[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(4) == 0 ? ChunkId.ZERO : id(r.nextInt(1500));
        TwinBlocks twins = index(ids, 1000);
        Map<ChunkId, java.util.List<Long>> byId = new HashMap<>();
        for (int i = 0; i < n; i++) if (!ids[i].isZero()) byId.computeIfAbsent(ids[i], k -> new java.util.ArrayList<>()).add((long) i);
        for (int i = 0; i < n; i++) {
            long block = i;
            long[] expected = ids[i].isZero() ? new long[0]
                    : byId.get(ids[i]).stream().mapToLong(Long::longValue).filter(x -> x != block).toArray();
            assertThat(twins.of(i)).as("block %d", i).containsExactly(expected);
        }
    }
    @Test
    void aManifestWithMoreStoredBlocksThanTheLimitOrThanItSaysGetsNoIndex() throws IOException {
        ChunkId[] ids = {id(1), id(1), id(2), id(2)};
        assertThat(TwinBlocks.of(ids.length, 4, x -> ids[(int) x], 16).of(0)).containsExactly(1);
        assertThat(TwinBlocks.of(ids.length, 3, x -> ids[(int) x], 16).of(0)).as("the root undercounts").isEmpty();
        assertThat(TwinBlocks.of(ids.length, TwinBlocks.MAX_INDEXED + 1, x -> ids[(int) x], 16).size()).isZero();
    }
}
