package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class AnonymousMemoryTest {
    @Test
    void aMappingIsZeroedDirectMemoryOnAHugePageBoundaryThatKeepsWhatIsWritten() {
        assertThat(AnonymousMemory.mapped()).as("mmap is reachable through the FFM API here (Linux, native access on)").isTrue();
        ByteBuffer b = AnonymousMemory.allocate(2 * AnonymousMemory.HUGE_PAGE);
        assertThat(b.isDirect()).isTrue();
        assertThat(b.capacity()).isEqualTo(2 * AnonymousMemory.HUGE_PAGE);
        assertThat(MemorySegment.ofBuffer(b).address() % AnonymousMemory.HUGE_PAGE).as("aligned, so the kernel can back it with huge pages").isZero();
        for (int i = 0; i < b.capacity(); i += 4096) assertThat(b.get(i)).isZero();
        b.putLong(0, 0x1122334455667788L).putLong(b.capacity() - 8, -1L);
        assertThat(b.getLong(0)).isEqualTo(0x1122334455667788L);
        assertThat(b.getLong(b.capacity() - 8)).isEqualTo(-1L);
        assertThat(b.getLong(8)).isZero();
    }

    @Test
    void onlyWholeHugePagesAreHandedOut() {
        assertThatThrownBy(() -> AnonymousMemory.allocate(4096)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AnonymousMemory.allocate(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
