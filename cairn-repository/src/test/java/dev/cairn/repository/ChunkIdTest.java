package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChunkIdTest {

    @Test
    void hexBytesAndLongsRoundTrip() {
        byte[] digest = Blocks.random(32, 1);
        ChunkId id = ChunkId.of(digest);
        assertThat(id.toBytes()).isEqualTo(digest);
        assertThat(ChunkId.parse(id.toString())).isEqualTo(id);
        assertThat(id.toString()).hasSize(64).isLowerCase();
        assertThat(id.shortForm()).isEqualTo(id.toString().substring(0, 8));
    }

    @Test
    void zeroIsReservedAndRecognized() {
        assertThat(ChunkId.ZERO.isZero()).isTrue();
        assertThat(ChunkId.of(new byte[32])).isEqualTo(ChunkId.ZERO);
        assertThat(ChunkId.of(Blocks.random(32, 2)).isZero()).isFalse();
        assertThatThrownBy(() -> new ManifestId(ChunkId.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void rejectsWrongLengths() {
        assertThatThrownBy(() -> ChunkId.of(new byte[31])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ChunkId.parse("abc")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void tableActsAsSetAndMapThroughGrowth() {
        ChunkIdTable table = new ChunkIdTable(4);
        Random r = new Random(3);
        Set<ChunkId> expected = new HashSet<>();
        for (int i = 0; i < 50_000; i++) {
            ChunkId id = ChunkId.of(Blocks.random(32, r.nextLong()));
            expected.add(id);
            assertThat(table.put(id, i)).isTrue();
            assertThat(table.put(id, i)).isFalse();
        }
        assertThat(table.size()).isEqualTo(expected.size());
        for (ChunkId id : expected) assertThat(table.contains(id)).isTrue();
        assertThat(table.contains(ChunkId.of(Blocks.random(32, -1)))).isFalse();
        assertThat(table.get(ChunkId.ZERO, -7)).isEqualTo(-7);
        Set<ChunkId> seen = new HashSet<>();
        table.forEach(seen::add);
        assertThat(seen).isEqualTo(expected);
        assertThatThrownBy(() -> table.add(ChunkId.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }
}
