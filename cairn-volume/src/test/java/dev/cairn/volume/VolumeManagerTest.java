package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeManagerTest {
    @TempDir Path dir;

    @Test
    void leasesShareOneVolumeAndFlushCoversAll() throws IOException {
        try (var vm = new VolumeManager(dir)) {
            vm.create("disk-aaaa0001", 1 << 20);
            try (Volume a = vm.open("disk-aaaa0001"); Volume b = vm.open("disk-aaaa0001")) {
                a.write(0, ByteBuffer.wrap(new byte[] {9, 9, 9}), false);
                b.flush();
                assertThat(SparseFileVolumeTest.read(b, 0, 3)).containsExactly(9, 9, 9);
                b.resize(2 << 20);
                assertThat(a.size()).isEqualTo(2 << 20);
            }
            assertThat(vm.size("disk-aaaa0001")).isEqualTo(2 << 20);
            assertThat(vm.list()).containsExactly("disk-aaaa0001");
        }
    }

    @Test
    void deleteRemovesTheFileWhileAnOpenLeaseStillWorks() throws IOException {
        try (var vm = new VolumeManager(dir)) {
            vm.create("disk-bbbb0001", 1 << 20);
            Volume lease = vm.open("disk-bbbb0001");
            vm.delete("disk-bbbb0001");
            assertThat(vm.exists("disk-bbbb0001")).isFalse();
            lease.write(0, ByteBuffer.allocate(512), true); // unlinked inode, still valid
            lease.close();
            lease.close(); // idempotent
            vm.delete("disk-bbbb0001");
        }
    }

    @Test
    void idsThatCouldEscapeTheDirectoryAreRefused() throws IOException {
        try (var vm = new VolumeManager(dir)) {
            assertThatThrownBy(() -> vm.create("../etc", 512)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> vm.open("disk-x/../../y")).isInstanceOf(IllegalArgumentException.class);
            assertThat(Files.list(dir)).isEmpty();
        }
    }

    @Test
    void aLeaseDelegatesTransfers() throws IOException {
        try (VolumeManager vm = new VolumeManager(dir)) {
            vm.create("disk-tttt0001", 4L << 20);
            try (Volume lease = vm.open("disk-tttt0001")) {
                byte[] data = SparseFileVolumeTest.random(1 << 20);
                lease.write(0, ByteBuffer.wrap(data), false);
                Volume.Transfer t = lease.transfer(0, 1 << 20);
                org.junit.jupiter.api.Assumptions.assumeTrue(t != null, "kernel without cachestat(2)");
                java.io.ByteArrayOutputStream sink = new java.io.ByteArrayOutputStream();
                t.writeTo(java.nio.channels.Channels.newChannel(sink));
                assertThat(sink.toByteArray()).isEqualTo(data);
            }
        }
    }
}
