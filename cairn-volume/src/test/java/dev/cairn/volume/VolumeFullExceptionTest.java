package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class VolumeFullExceptionTest {
    @Test
    void noRoomIsRecognisedFromErrnoAndFromTheJdksText() {
        assertThat(VolumeFullException.classify(new IOException("No space left on device"), "disk-a"))
                .isInstanceOf(VolumeFullException.class).hasMessageContaining("disk-a");
        assertThat(VolumeFullException.classify(new IOException("Disk quota exceeded"), "disk-a")).isInstanceOf(VolumeFullException.class);
        assertThat(VolumeFullException.classify(new NativeFile.NativeIOException("fallocate", NativeFile.ENOSPC), "d"))
                .isInstanceOf(VolumeFullException.class);
        IOException other = new IOException("Input/output error");
        assertThat(VolumeFullException.classify(other, "disk-a")).isSameAs(other);
    }
}
