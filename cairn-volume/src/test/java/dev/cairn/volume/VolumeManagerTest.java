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

    @Test
    void leasesOpenedWhileTheLastOneClosesNeverLoseTrackingOrPresence() throws Exception {
        int bs = 64 * 1024, blocks = 64;
        byte[] base = new byte[blocks * bs];
        new java.util.Random(1).nextBytes(base);
        byte[][] expected = new byte[blocks][];
        try (var vm = new VolumeManager(dir, bs, label -> new MemoryBase(label, base))) {
            vm.layer("disk-race1", (long) blocks * bs, "m-1"); // an overlay, tracking trusted relative to m-1
            Thread[] threads = new Thread[4];
            for (int t = 0; t < threads.length; t++) {
                int me = t;
                threads[t] = Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < 150; i++) {
                            int block = me * 16 + i % 16;
                            byte[] data = new byte[4096];
                            java.util.Arrays.fill(data, (byte) (i + 1));
                            try (Volume v = vm.open("disk-race1")) {
                                v.write((long) block * bs + 100, ByteBuffer.wrap(data), false);
                                v.flush();
                            }
                            expected[block] = data;
                            if (i % 3 == me % 3) Thread.sleep(1); // stagger, so the last lease is often released while another opens
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            }
            for (Thread t : threads) t.join();
            try (VolumeManager.Lease lease = vm.open("disk-race1")) {
                assertThat(lease.tracked().tracker().trusted()).as("tracking survived the open/close churn").isTrue();
            }
        }
        try (var restarted = new VolumeManager(dir, bs, label -> new MemoryBase(label, base)); Volume v = restarted.open("disk-race1")) {
            for (int b = 0; b < blocks; b++) {
                ByteBuffer got = ByteBuffer.allocate(4096 + 200);
                v.read((long) b * bs, got);
                byte[] all = got.array();
                assertThat(java.util.Arrays.copyOfRange(all, 0, 100)).as("block %d head: the base", b)
                        .isEqualTo(java.util.Arrays.copyOfRange(base, b * bs, b * bs + 100));
                assertThat(java.util.Arrays.copyOfRange(all, 100, 4196)).as("block %d: its last flushed write", b).isEqualTo(expected[b]);
            }
        }
    }
}
