package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The node's live disks: one sparse file per disk under {@code DIR/<disk-id>.raw}, plus
 * {@code <disk-id>.overlay} while the disk is layered over a base (an {@link OverlayVolume}),
 * {@code <disk-id>.cbt} (its change-tracking set, present only between a clean close and the next
 * open) and {@code <disk-id>.cow} (copy-before-write spill of a capture in progress).
 *
 * <p>{@link #open} hands out <em>leases</em> on one shared {@link TrackedVolume} per disk, so every
 * NBD connection and capture sees the same state and a flush through any lease covers all of them.
 * The volume is closed (flushed, its tracking set saved) when the last lease is closed; it stays
 * available to new leases while that flush writes the data back, and only then leaves use.
 *
 * <p><b>Threads.</b> All methods are thread-safe; the registry is guarded by {@code this}, and volume I/O
 * happens outside that lock. {@link #delete} unlinks the file at once; leases still open keep reading
 * and writing the unlinked inode until they close (Linux semantics), so a racing connection never sees
 * a half-deleted disk.
 */
public final class VolumeManager implements AutoCloseable {
    private static final Pattern ID = Pattern.compile("[a-z]+-[a-z0-9]{1,32}");

    /** Tracking granularity when none is given: the repository's default block size. */
    public static final int DEFAULT_BLOCK_SIZE = 64 * 1024;

    private final Path dir;
    private final int blockSize;
    private final BaseImage.Resolver bases;
    private final Map<String, Shared> open = new HashMap<>();
    /** Disks whose last lease was released and whose volume is still being closed; guarded by this. */
    private final java.util.Set<String> closing = new java.util.HashSet<>();

    public VolumeManager(Path dir) throws IOException {
        this(dir, DEFAULT_BLOCK_SIZE, BaseImage.Resolver.NONE);
    }

    /**
     * @param blockSize change-tracking (and overlay) granularity: the snapshot repository's block size
     * @param bases opens the bases overlays are layered over
     */
    public VolumeManager(Path dir, int blockSize, BaseImage.Resolver bases) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.blockSize = blockSize;
        this.bases = bases;
        try (var files = Files.list(this.dir)) { // spills of captures a crash interrupted: those captures failed
            for (Path p : files.filter(f -> f.getFileName().toString().endsWith(".cow")).toList()) Files.deleteIfExists(p);
        }
    }

    public int blockSize() {
        return blockSize;
    }

    public Path directory() {
        return dir;
    }

    /** Creates an empty disk of {@code sizeBytes}. Fails if one with that id exists. */
    public void create(String id, long sizeBytes) throws IOException {
        SparseFileVolume.create(file(id), sizeBytes).close();
    }

    public boolean exists(String id) {
        return Files.exists(file(id));
    }

    /**
     * A lease on the disk's shared volume; close it when done. If the disk's last lease was just
     * released and its volume is still closing (flushing, saving its tracking and presence sets), this
     * waits for that first: two volumes on one disk's files at once could save stale sets over new ones.
     */
    public Lease open(String id) throws IOException {
        Shared shared;
        synchronized (this) {
            while (closing.contains(id)) {
                try {
                    wait(); // released in release()
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while disk " + id + " was closing");
                }
            }
            shared = open.get(id);
            if (shared == null) {
                shared = new Shared(id, openTracked(id));
                open.put(id, shared);
            }
            shared.leases++;
        }
        return new Lease(shared);
    }

    private TrackedVolume openTracked(String id) throws IOException {
        String baseLabel = OverlayVolume.baseLabelOf(meta(id));
        Volume inner;
        if (baseLabel == null) {
            inner = SparseFileVolume.open(file(id), false);
        } else {
            BaseImage base = bases.open(baseLabel);
            try {
                inner = OverlayVolume.open(file(id), meta(id), base);
            } catch (IOException | RuntimeException e) {
                base.close();
                throw e;
            }
        }
        try {
            return new TrackedVolume(id, inner, ChangeTracker.load(sidecar(id, ".cbt"), blockSize), sidecar(id, ".cow"));
        } catch (IOException | RuntimeException e) {
            inner.close();
            throw e;
        }
    }

    /**
     * Makes disk {@code id} read as the base {@code baseLabel} (a snapshot) from now on, at
     * {@code sizeBytes}: a rollback of an existing disk, or a new disk cloned from a snapshot. Instant,
     * and atomic across a crash (see {@link OverlayVolume#layer}). Its change tracking restarts empty,
     * relative to that snapshot. The disk must not be open.
     */
    public void layer(String id, long sizeBytes, String baseLabel) throws IOException {
        synchronized (this) {
            if (open.containsKey(id) || closing.contains(id)) throw new IllegalStateException("disk " + id + " is in use");
        }
        Files.deleteIfExists(sidecar(id, ".cbt")); // a crash before the new set is written leaves none: untrusted, safe
        OverlayVolume.layer(file(id), meta(id), sizeBytes, blockSize, baseLabel);
        ChangeTracker.write(sidecar(id, ".cbt"), blockSize, baseLabel, new org.roaringbitmap.RoaringBitmap());
    }

    /** The base the disk is layered over, or null for a plain disk. */
    public String baseOf(String id) throws IOException {
        return OverlayVolume.baseLabelOf(meta(id));
    }

    /** Grows the disk, open or not. Open leases see the new size at once. */
    public void resize(String id, long newSize) throws IOException {
        try (Volume v = open(id)) {
            v.resize(newSize);
        }
    }

    /** Current size of the disk in bytes. */
    public long size(String id) throws IOException {
        return Files.size(file(id));
    }

    /** Removes the disk's file; idempotent. Open leases keep working on the unlinked file until closed. */
    public void delete(String id) throws IOException {
        synchronized (this) {
            open.remove(id); // later opens must not find the old volume
        }
        Files.deleteIfExists(file(id));
        Files.deleteIfExists(meta(id));
        Files.deleteIfExists(sidecar(id, ".cbt"));
        AtomicFiles.syncDirectory(dir);
    }

    /** Ids of all disks on this node. */
    public List<String> list() throws IOException {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".raw"))
                    .map(n -> n.substring(0, n.length() - 4))
                    .sorted()
                    .toList();
        }
    }

    /** Flushes and closes every open volume (leases still held fail afterwards). */
    @Override
    public void close() throws IOException {
        List<Shared> all;
        synchronized (this) {
            all = List.copyOf(open.values());
            for (Shared s : all) s.closing = true; // a lease released later must not close it again
            open.clear();
        }
        IOException first = null;
        for (Shared s : all) {
            try {
                closeAndSave(s);
            } catch (IOException e) {
                if (first == null) first = e; else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }

    private Path file(String id) {
        return sidecar(id, ".raw");
    }

    private Path meta(String id) {
        return sidecar(id, ".overlay");
    }

    private Path sidecar(String id, String suffix) {
        if (!ID.matcher(id).matches()) throw new IllegalArgumentException("not a volume id: " + id);
        return dir.resolve(id + suffix);
    }

    /** Closes a disk's volume and, once its data is flushed, saves its tracking set for the next open. */
    private void closeAndSave(Shared s) throws IOException {
        s.volume.close();
        if (Files.exists(file(s.id))) s.volume.tracker().save(sidecar(s.id, ".cbt"));
    }

    private void release(Shared shared) throws IOException {
        synchronized (this) {
            if (--shared.leases > 0) return;
        }
        // The long part of a close — writing back what the last holder left in the page cache — while the
        // volume stays open: a connection or capture arriving meanwhile leases it at once instead of
        // waiting for a close and a reopen (a snapshot right after a heavy writer disconnected waited
        // 0.5–1.7 s for that flush). The close itself then has little left to write.
        try {
            shared.volume.flush();
        } catch (IOException e) {
            // the close below flushes again and reports what fails
        }
        synchronized (this) {
            if (shared.leases > 0 || shared.closing) return; // leased again meanwhile, or another release closes it
            shared.closing = true;
            open.remove(shared.id, shared);
            closing.add(shared.id);
        }
        try {
            closeAndSave(shared); // outside the lock: other disks' opens need not wait for this flush
        } finally {
            synchronized (this) {
                closing.remove(shared.id);
                notifyAll();
            }
        }
    }

    private static final class Shared {
        final String id;
        final TrackedVolume volume;
        int leases; // guarded by the manager
        boolean closing; // guarded by the manager: a release has taken it out of use and closes it

        Shared(String id, TrackedVolume volume) {
            this.id = id;
            this.volume = volume;
        }
    }

    /** One holder's handle; every call goes to the shared volume. Closing twice releases once. */
    public final class Lease implements Volume {
        private final Shared shared;
        private boolean released;

        Lease(Shared shared) {
            this.shared = shared;
        }

        /** The shared volume itself: for captures and flattening, which need more than {@link Volume}. */
        public TrackedVolume tracked() {
            return shared.volume;
        }

        @Override public long size() { return shared.volume.size(); }
        @Override public boolean readOnly() { return shared.volume.readOnly(); }
        @Override public void read(long offset, ByteBuffer dst) throws IOException { shared.volume.read(offset, dst); }
        @Override public Transfer transfer(long offset, long length) throws IOException { return shared.volume.transfer(offset, length); }
        @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException { shared.volume.write(offset, src, fua); }
        @Override public void flush() throws IOException { shared.volume.flush(); }
        @Override public void trim(long offset, long length, boolean fua) throws IOException { shared.volume.trim(offset, length, fua); }
        @Override public void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException {
            shared.volume.writeZeroes(offset, length, mayPunch, fua);
        }
        @Override public boolean fastZero(boolean mayPunch) { return shared.volume.fastZero(mayPunch); }
        @Override public void prefetch(long offset, long length) throws IOException { shared.volume.prefetch(offset, length); }
        @Override public List<Extent> extents(long offset, long length) throws IOException { return shared.volume.extents(offset, length); }
        @Override public void resize(long newSize) throws IOException { shared.volume.resize(newSize); }

        @Override
        public void close() throws IOException {
            synchronized (this) {
                if (released) return;
                released = true;
            }
            release(shared);
        }

        @Override
        public String toString() {
            return "lease on " + shared.volume;
        }
    }
}
