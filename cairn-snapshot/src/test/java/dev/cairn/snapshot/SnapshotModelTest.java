package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.Backend;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random writes, trims, snapshots (single and grouped), rollbacks, clones, flattens, deletes, GC,
 * clean restarts and crashes on several disks, checked against byte arrays after every step: every
 * disk and every snapshot reads exactly as the model says (and every tenth step, {@code verify}
 * re-reads every chunk). Subclasses run it on each backend.
 */
abstract class SnapshotModelTest {
    static final int BS = 64 * 1024;
    static final int DISK = 24 * BS + 4096 * 3; // an odd size: the last block is short
    @TempDir Path dir;

    abstract Backend backend(Path dir) throws Exception;

    record Snap(String disk, ManifestId manifest, byte[] content) {}

    /** One node: volumes, cache and engine over the shared repository; replaced on restart and crash. */
    final class Node {
        final VolumeManager volumes;
        final BaseCache cache;
        final SnapshotEngine engine;

        Node(Repository repo) throws IOException {
            cache = new BaseCache(dir.resolve("cache"), repo);
            volumes = new VolumeManager(dir.resolve("volumes"), BS, cache);
            engine = new SnapshotEngine(repo, volumes, cache, 2);
        }

        void close() throws IOException {
            volumes.close();
            cache.close();
        }
    }

    /** What the store logged last, for a failure's message ("" where there is nothing to add). */
    String backendLog() {
        return "";
    }

    @Test
    void everyDiskAndSnapshotMatchesTheModel() throws Exception {
        for (long seed = 1; seed <= 4; seed++) {
            try {
                run(seed, 80);
            } catch (Exception e) {
                throw new AssertionError("seed " + seed + ": " + e + (backendLog().isEmpty() ? "" : "\nthe store's last log lines:\n" + backendLog()), e);
            }
        }
    }

    void run(long seed, int steps) throws Exception {
        Path base = dir.resolve("run-" + seed);
        Backend backend = backend(base);
        Repository repo = Repository.create(backend, RepositoryOptions.defaults().withBlockSize(BS).withPageEntries(16));
        Random r = new Random(seed);
        Map<String, byte[]> disks = new LinkedHashMap<>();
        Map<String, ManifestId> last = new LinkedHashMap<>();
        List<Snap> snaps = new ArrayList<>();
        Node node = new Node(repo);
        int nextDisk = 0;
        for (int i = 0; i < 2; i++) {
            String id = "disk-" + seed + "x" + nextDisk++;
            node.volumes.create(id, DISK);
            disks.put(id, new byte[DISK]);
        }
        for (int step = 0; step < steps; step++) {
            List<String> ids = new ArrayList<>(disks.keySet());
            String disk = ids.get(r.nextInt(ids.size()));
            int op = r.nextInt(100);
            String what;
            if (op < 35) {
                int len = 1 + r.nextInt(3 * BS);
                long off = r.nextInt(DISK - len);
                byte[] data = new byte[len];
                if (r.nextBoolean()) r.nextBytes(data); else Arrays.fill(data, (byte) r.nextInt(4)); // some repeat: dedup
                try (Volume v = node.volumes.open(disk)) {
                    v.write(off, ByteBuffer.wrap(data), false);
                    v.flush();
                }
                System.arraycopy(data, 0, disks.get(disk), (int) off, len);
                what = "write " + disk + " " + off + "+" + len;
            } else if (op < 45) {
                int len = 1 + r.nextInt(4 * BS);
                long off = r.nextInt(DISK - len);
                try (Volume v = node.volumes.open(disk)) {
                    v.trim(off, len, true);
                }
                Arrays.fill(disks.get(disk), (int) off, (int) off + len, (byte) 0);
                what = "trim " + disk;
            } else if (op < 62) {
                List<String> group = r.nextInt(4) == 0 ? ids : List.of(disk);
                List<SnapshotEngine.Request> reqs = new ArrayList<>();
                for (String d : group) reqs.add(new SnapshotEngine.Request(d, last.get(d), Map.of("disk", d)));
                List<SnapshotEngine.Job> jobs = node.engine.begin(reqs);
                for (int j = 0; j < jobs.size(); j++) {
                    String d = group.get(j);
                    byte[] atBarrier = disks.get(d).clone();
                    ManifestId m = jobs.get(j).run((done, total, bytes) -> {}, id -> {});
                    last.put(d, m);
                    snaps.add(new Snap(d, m, atBarrier));
                    assertThat(readAll(node.engine.openSnapshot(m))).as("seed %d step %d: new snapshot of %s", seed, step, d).isEqualTo(atBarrier);
                }
                what = "snapshot " + group;
            } else if (op < 70 && !snaps.isEmpty()) {
                List<Snap> own = snaps.stream().filter(s -> s.disk().equals(disk) || r.nextBoolean()).toList();
                if (own.isEmpty()) continue;
                Snap s = own.get(r.nextInt(own.size()));
                node.close(); // the disk must be closed to roll back; a clean stop of the node
                node = new Node(repo);
                node.engine.layer(disk, DISK, s.manifest());
                disks.put(disk, s.content().clone());
                last.put(disk, s.manifest());
                what = "rollback " + disk + " to " + s.manifest().shortForm();
            } else if (op < 77 && !snaps.isEmpty()) {
                Snap s = snaps.get(r.nextInt(snaps.size()));
                String id = "disk-" + seed + "x" + nextDisk++;
                node.engine.layer(id, DISK, s.manifest());
                disks.put(id, s.content().clone());
                last.put(id, s.manifest());
                what = "clone " + id + " from " + s.manifest().shortForm();
            } else if (op < 83) {
                boolean flattened = node.engine.flatten(disk, 0, (p, t) -> {}, () -> false) != null;
                if (flattened) assertThat(node.engine.baseOf(disk)).isNull();
                what = "flatten " + disk;
            } else if (op < 90 && !snaps.isEmpty()) {
                Snap s = snaps.remove(r.nextInt(snaps.size()));
                if (!live(node, disks.keySet(), last).contains(s.manifest()) && snaps.stream().noneMatch(o -> o.manifest().equals(s.manifest()))) {
                    repo.deleteManifest(s.manifest());
                }
                try (var plan = repo.garbageCollector(Duration.ZERO).plan(live(node, disks.keySet(), last))) {
                    repo.garbageCollector(Duration.ZERO).execute(plan);
                }
                what = "delete " + s.manifest().shortForm() + " + gc";
            } else if (op < 95) {
                node.close();
                node = new Node(repo);
                what = "restart";
            } else {
                // crash while every disk is open (as when served): one is written and flushed, then the
                // node is dropped without closing anything
                for (String d : ids) node.volumes.open(d);
                int len = 1 + r.nextInt(BS);
                long off = r.nextInt(DISK - len);
                byte[] data = new byte[len];
                r.nextBytes(data);
                try (Volume v = node.volumes.open(disk)) {
                    v.write(off, ByteBuffer.wrap(data), false);
                    v.flush();
                }
                System.arraycopy(data, 0, disks.get(disk), (int) off, len);
                node = new Node(repo);
                what = "crash after writing " + disk;
            }
            for (var e : disks.entrySet()) {
                assertThat(readAll(node.volumes.open(e.getKey()))).as("seed %d step %d (%s): disk %s", seed, step, what, e.getKey()).isEqualTo(e.getValue());
            }
            for (Snap s : snaps) {
                assertThat(readAll(node.engine.openSnapshot(s.manifest()))).as("seed %d step %d (%s): snapshot of %s", seed, step, what, s.disk()).isEqualTo(s.content());
            }
            if (step % 10 == 9 || step == steps - 1) assertThat(repo.verify(1.0).ok()).isTrue(); // re-reads every chunk: the slow check
        }
        node.close();
    }

    /** What GC must keep: every disk's last capture and base (the catalog's job in the real service). */
    static Set<ManifestId> live(Node node, Set<String> disks, Map<String, ManifestId> last) throws IOException {
        Set<ManifestId> live = new HashSet<>();
        for (String d : disks) {
            if (last.get(d) != null) live.add(last.get(d));
            ManifestId b = node.engine.baseOf(d);
            if (b != null) live.add(b);
        }
        return live;
    }

    static byte[] readAll(Volume v) throws IOException {
        try (v) {
            ByteBuffer b = ByteBuffer.allocate((int) v.size());
            v.read(0, b);
            return b.array();
        }
    }
}
