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
 * The node's live disks: one sparse file per disk under {@code DIR/<disk-id>.raw}.
 *
 * <p>{@link #open} hands out <em>leases</em> on one shared {@link SparseFileVolume} per disk, so every
 * NBD connection to a disk sees the same file state and a flush through any lease covers all of them.
 * The file is closed (and flushed) when the last lease is closed.
 *
 * <p><b>Threads.</b> All methods are thread-safe; the registry is guarded by {@code this}, and volume I/O
 * happens outside that lock. {@link #delete} unlinks the file at once; leases still open keep reading
 * and writing the unlinked inode until they close (Linux semantics), so a racing connection never sees
 * a half-deleted disk.
 */
public final class VolumeManager implements AutoCloseable {
    private static final Pattern ID = Pattern.compile("[a-z]+-[a-z0-9]{1,32}");

    private final Path dir;
    private final Map<String, Shared> open = new HashMap<>();

    public VolumeManager(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
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

    /** A lease on the disk's shared volume; close it when done. */
    public Volume open(String id) throws IOException {
        Shared shared;
        synchronized (this) {
            shared = open.get(id);
            if (shared == null) {
                shared = new Shared(id, SparseFileVolume.open(file(id), false));
                open.put(id, shared);
            }
            shared.leases++;
        }
        return new Lease(shared);
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
            open.clear();
        }
        IOException first = null;
        for (Shared s : all) {
            try {
                s.volume.close();
            } catch (IOException e) {
                if (first == null) first = e; else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }

    private Path file(String id) {
        if (!ID.matcher(id).matches()) throw new IllegalArgumentException("not a volume id: " + id);
        return dir.resolve(id + ".raw");
    }

    private void release(Shared shared) throws IOException {
        synchronized (this) {
            if (--shared.leases > 0) return;
            open.remove(shared.id, shared);
        }
        shared.volume.close();
    }

    private static final class Shared {
        final String id;
        final SparseFileVolume volume;
        int leases; // guarded by the manager

        Shared(String id, SparseFileVolume volume) {
            this.id = id;
            this.volume = volume;
        }
    }

    /** One holder's handle; every call goes to the shared volume. Closing twice releases once. */
    private final class Lease implements Volume {
        private final Shared shared;
        private boolean released;

        Lease(Shared shared) {
            this.shared = shared;
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
