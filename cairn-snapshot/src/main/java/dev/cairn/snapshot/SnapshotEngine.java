package dev.cairn.snapshot;

import dev.cairn.repository.ManifestId;
import dev.cairn.repository.Repository;
import dev.cairn.volume.OverlayVolume;
import dev.cairn.volume.TrackedVolume;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.roaringbitmap.RoaringBitmap;

/**
 * What the control plane asks of a node's snapshot machinery, in its terms (disk ids, manifest ids):
 * capture disks (one or a crash-consistent group), lay a disk over a snapshot (rollback, clone), flatten
 * it, serve a snapshot read-only. It decides incremental vs full: a capture is incremental only if the
 * disk's change tracking is trusted and relative to the manifest the catalog says the disk was last
 * captured as; otherwise it rescans the disk (a layered disk: relative to its base).
 */
public final class SnapshotEngine {
    private final Repository repository;
    private final VolumeManager volumes;
    private final BaseCache cache;
    private final int captureThreads;

    public SnapshotEngine(Repository repository, VolumeManager volumes, BaseCache cache, int captureThreads) {
        if (volumes.blockSize() != repository.blockSize()) {
            throw new IllegalArgumentException("volumes track " + volumes.blockSize() + "-byte blocks, the repository stores " + repository.blockSize());
        }
        this.repository = repository;
        this.volumes = volumes;
        this.cache = cache;
        this.captureThreads = captureThreads;
    }

    public Repository repository() {
        return repository;
    }

    public BaseCache cache() {
        return cache;
    }

    /** One disk to capture: its id, the manifest the catalog has as its last capture (or null), the manifest's metadata. */
    public record Request(String diskId, ManifestId lastCaptured, Map<String, String> metadata) {}

    /**
     * Puts one barrier across the disks and returns a job per disk, in request order. Returns quickly
     * (a full rescan computes the disk's allocation first, outside the barrier). Fails, starting nothing,
     * if a disk is already being captured.
     */
    public List<Job> begin(List<Request> requests) throws IOException {
        List<VolumeManager.Lease> leases = new ArrayList<>();
        try {
            List<TrackedVolume> tracked = new ArrayList<>();
            List<RoaringBitmap> extra = new ArrayList<>();
            List<ManifestId> parents = new ArrayList<>();
            for (Request r : requests) {
                VolumeManager.Lease lease = volumes.open(r.diskId());
                leases.add(lease);
                TrackedVolume tv = lease.tracked();
                boolean incremental = r.lastCaptured() != null && tv.tracker().trusted()
                        && r.lastCaptured().toString().equals(tv.tracker().label());
                tracked.add(tv);
                extra.add(incremental ? null : tv.blocksForFullCapture());
                parents.add(incremental ? r.lastCaptured() : tv.baseLabel() == null ? null : ManifestId.parse(tv.baseLabel()));
            }
            List<TrackedVolume.Capture> captures = TrackedVolume.beginCaptures(tracked, extra);
            List<Job> jobs = new ArrayList<>();
            for (int i = 0; i < requests.size(); i++) {
                jobs.add(new Job(leases.get(i), captures.get(i), new SnapshotCapture(repository, captures.get(i), parents.get(i),
                        requests.get(i).metadata(), captureThreads), parents.get(i)));
            }
            return jobs;
        } catch (IOException | RuntimeException e) {
            for (VolumeManager.Lease l : leases) l.close();
            throw e;
        }
    }

    /** One disk's capture after the barrier. Run it, then it has ended (success or not) and released the disk. */
    public final class Job {
        private final VolumeManager.Lease lease;
        private final TrackedVolume.Capture capture;
        private final SnapshotCapture work;
        private final ManifestId parent;
        private volatile long bytesRead;

        Job(VolumeManager.Lease lease, TrackedVolume.Capture capture, SnapshotCapture work, ManifestId parent) {
            this.lease = lease;
            this.capture = capture;
            this.work = work;
            this.parent = parent;
        }

        /** Blocks to read (what changed, or everything allocated on a rescan). */
        public long blocks() {
            return capture.blocks().getLongCardinality();
        }

        /** Bytes read from the disk so far. */
        public long bytesRead() {
            return bytesRead;
        }

        /** Bytes of old pages copy-before-write had to put in the spill file (the memory budget was full). */
        public long bytesSpilled() {
            return capture.bytesSpilled();
        }

        public boolean incremental() {
            return parent != null && capture.relativeTo() != null;
        }

        public long sizeAtBarrier() {
            return capture.sizeAtBarrier();
        }

        /**
         * Stores the capture and commits its manifest. {@code recorder} runs once the manifest is durable
         * (record it in the catalog there); only if it returns does the disk's tracking move on to the
         * new manifest. On any failure the capture's blocks count as changed again.
         */
        /** The capture's own phases (see {@link SnapshotCapture#storeMillis}), for the log. */
        public SnapshotCapture work() {
            return work;
        }

        public ManifestId run(SnapshotCapture.Progress progress, Recorder recorder) throws IOException {
            try {
                ManifestId id = work.run((done, total, bytes) -> {
                    bytesRead = bytes;
                    progress.update(done, total, bytes);
                });
                capture.committing();
                try {
                    recorder.record(id);
                } catch (IOException | RuntimeException e) {
                    try {
                        repository.deleteManifest(id); // nothing may keep its chunks alive; GC takes them
                    } catch (IOException cleanup) {
                        e.addSuppressed(cleanup); // the catalog's reconciliation (GC) removes it later
                    }
                    throw e;
                }
                capture.finish(id.toString());
                return id;
            } finally {
                capture.finish(null); // no-op after success
                lease.close();
            }
        }

        /** Ends the job without running it (the snapshot was refused after the barrier). */
        public void abandon() throws IOException {
            capture.finish(null);
            lease.close();
        }

        public void cancel() {
            work.cancel();
        }
    }

    @FunctionalInterface
    public interface Recorder {
        void record(ManifestId manifest) throws IOException;
    }

    /**
     * Makes {@code diskId} read as {@code manifest} at once (rollback, or a new disk cloned from a
     * snapshot, at {@code sizeBytes} ≥ the snapshot's size). The disk must not be open.
     */
    public void layer(String diskId, long sizeBytes, ManifestId manifest) throws IOException {
        volumes.layer(diskId, sizeBytes, manifest.toString());
    }

    /**
     * Flattens a layered disk (see {@link Flatten}) and returns what the run did; returns null at once if
     * the disk is plain. Holds a lease while running, so the disk stays open. {@code stop} is polled
     * between steps (never an interrupt: that would close the disk's file channel under its other users).
     */
    public Flatten.Result flatten(String diskId, long bytesPerSecond, Flatten.Progress progress, java.util.function.BooleanSupplier stop) throws IOException {
        try (VolumeManager.Lease lease = volumes.open(diskId)) {
            if (!(lease.tracked().inner() instanceof OverlayVolume overlay)) return null;
            return new Flatten(overlay, bytesPerSecond, stop).run(progress);
        }
    }

    /** Removes a disk's files (only when it is not open; see {@link VolumeManager#delete}). */
    public VolumeManager volumes() {
        return volumes;
    }

    /** The base a disk is layered over, or null. */
    public ManifestId baseOf(String diskId) throws IOException {
        String label = volumes.baseOf(diskId);
        return label == null ? null : ManifestId.parse(label);
    }

    /** A snapshot as a read-only volume (a {@code snap-…} export); close it when done. */
    public Volume openSnapshot(ManifestId manifest) throws IOException {
        return new BaseVolume(cache.open(manifest), repository.blockSize());
    }
}
