package dev.cairn.snapshot;

import dev.cairn.repository.ChunkId;
import dev.cairn.repository.ManifestId;
import dev.cairn.repository.ManifestReader;
import dev.cairn.repository.Repository;
import dev.cairn.volume.BaseImage;
import dev.cairn.volume.BlockBits;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The node's base cache (DESIGN §3): one sparse file per manifest ({@code DIR/<manifest>.raw}), filled
 * on demand from the repository, shared by every overlay disk and snapshot export that reads that
 * manifest — ten clones of one snapshot fetch and store each block once.
 *
 * <p><b>What stays true.</b> A block is marked filled only after its bytes are completely in the file
 * (zero blocks stay holes and need no bytes); fills of one block are serialized by its stripe lock, so
 * a reader sees the repository's verified bytes or waits for them — never a half-written block. Which
 * blocks are filled is kept in memory only: the cache starts empty in every process (the directory is
 * wiped at start), so a crash can never leave a block marked filled whose bytes did not reach the disk.
 * A manifest's file is removed when its last holder closes.
 *
 * <p><b>Threads.</b> Thread-safe. Opening and closing synchronize on the cache; reads of different
 * blocks run in parallel.
 */
public final class BaseCache implements BaseImage.Resolver, AutoCloseable {
    private static final int STRIPES = 64;
    /** Bytes in one group of blocks with equal content: what one copy in a flatten may write beyond itself. */
    static final int MAX_TWIN_BYTES = 16 << 20;

    private final Path dir;
    private final Repository repository;
    private final Map<ManifestId, Entry> entries = new HashMap<>();
    private final LongAdder fetchedBytes = new LongAdder();

    public BaseCache(Path dir, Repository repository) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.repository = repository;
        try (var files = Files.list(this.dir)) {
            for (Path p : files.toList()) Files.deleteIfExists(p);
        }
    }

    /** Opens the base for a manifest id (its hex form); close the result when done. */
    @Override
    public BaseImage open(String label) throws IOException {
        return open(ManifestId.parse(label));
    }

    public synchronized BaseImage open(ManifestId id) throws IOException {
        Entry e = entries.get(id);
        if (e == null) {
            e = new Entry(id, repository.openManifest(id));
            entries.put(id, e);
        }
        e.holders++;
        return new Handle(e);
    }

    /** Bytes read from the repository into the cache so far (a metric). */
    public long fetchedBytes() {
        return fetchedBytes.sum();
    }

    /** Manifests with an open cache file. */
    public synchronized int openManifests() {
        return entries.size();
    }

    private synchronized void release(Entry e) throws IOException {
        if (--e.holders > 0) return;
        entries.remove(e.id, e);
        e.close();
    }

    @Override
    public synchronized void close() throws IOException {
        for (Entry e : entries.values()) e.close();
        entries.clear();
    }

    /** One manifest's cache file and which of its blocks are filled. */
    private final class Entry {
        final ManifestId id;
        final ManifestReader manifest;
        final int blockSize;
        final long size;
        final Path file;
        final FileChannel channel;
        final BlockBits filled;
        final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
        int holders; // guarded by the cache
        private TwinBlocks twins; // built on first use (a flatten's); guarded by this

        Entry(ManifestId id, ManifestReader manifest) throws IOException {
            this.id = id;
            this.manifest = manifest;
            this.blockSize = manifest.blockSize();
            this.size = manifest.info().diskSize();
            this.file = dir.resolve(id + ".raw");
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            this.filled = new BlockBits(manifest.blockCount());
            for (int i = 0; i < STRIPES; i++) stripes[i] = new ReentrantLock();
        }

        void read(long offset, ByteBuffer dst) throws IOException {
            long pos = offset;
            while (dst.hasRemaining()) {
                if (pos >= size) { // past the snapshot's end (the disk grew since): zeros
                    while (dst.hasRemaining()) dst.put((byte) 0);
                    return;
                }
                long block = pos / blockSize;
                fill(block);
                long end = Math.min(Math.min(size, (block + 1) * blockSize), pos + dst.remaining());
                ByteBuffer part = dst.slice(dst.position(), (int) (end - pos));
                while (part.hasRemaining()) {
                    int n = channel.read(part, pos + part.position());
                    if (n < 0) { // a hole at the end of a shorter file: zeros
                        while (part.hasRemaining()) part.put((byte) 0);
                    }
                }
                dst.position(dst.position() + (int) (end - pos));
                pos = end;
            }
        }

        /**
         * Reads whole blocks for a caller that keeps them: cached ones from the cache file, the others
         * straight from the repository (not cached), their stored chunks fetched together.
         */
        void readOnce(long offset, ByteBuffer dst) throws IOException {
            long end = offset + dst.remaining();
            if (offset % blockSize != 0 || end > size || (end % blockSize != 0 && end != size) || end == offset) {
                read(offset, dst); // not whole blocks: the usual path
                return;
            }
            long first = offset / blockSize;
            int count = (int) ((end - 1) / blockSize - first + 1);
            long[] fetch = new long[count];
            ByteBuffer[] windows = new ByteBuffer[count];
            int n = 0;
            int at = dst.position();
            for (long b = first; b < first + count; b++) {
                int length = manifest.blockLength(b);
                ByteBuffer window = dst.slice(at, length);
                if (filled.get(b)) {
                    read(b * blockSize, window);
                } else {
                    fetch[n] = b;
                    windows[n++] = window;
                }
                at += length;
            }
            fetchedBytes.add(manifest.readBlocks(java.util.Arrays.copyOf(fetch, n), java.util.Arrays.copyOf(windows, n)));
            dst.position(at);
        }

        void fill(long block) throws IOException {
            if (filled.get(block)) return;
            ReentrantLock lock = stripes[(int) (block % STRIPES)];
            lock.lock();
            try {
                if (filled.get(block)) return;
                ChunkId chunk = manifest.entry(block);
                if (!chunk.isZero()) {
                    ByteBuffer buf = ByteBuffer.allocate(manifest.blockLength(block));
                    manifest.readBlock(block, buf);
                    buf.flip();
                    long pos = (long) block * blockSize;
                    while (buf.hasRemaining()) pos += channel.write(buf, pos);
                    fetchedBytes.add(buf.limit());
                }
                filled.set(block);
            } finally {
                lock.unlock();
            }
        }

        /** Asks the repository to fetch the stored chunks of the range's unfilled blocks in the background (a hint). */
        void prefetch(long offset, long length) {
            List<ChunkId> wanted = new ArrayList<>();
            long last = Math.min(offset + length, size) - 1;
            try {
                for (long b = offset / blockSize; b <= last / blockSize && b >= 0; b++) {
                    if (filled.get(b)) continue;
                    ChunkId chunk = manifest.entry(b);
                    if (!chunk.isZero()) wanted.add(chunk);
                }
            } catch (IOException e) {
                return; // a hint: the real read reports it
            }
            repository.willRead(wanted.toArray(ChunkId[]::new));
        }

        synchronized TwinBlocks twins() throws IOException {
            if (twins == null) twins = TwinBlocks.of(manifest, Math.max(2, MAX_TWIN_BYTES / blockSize));
            return twins;
        }

        boolean isZero(long offset, long length) throws IOException {
            for (long b = offset / blockSize; b <= (offset + length - 1) / blockSize; b++) {
                if (b * blockSize >= size) continue;
                if (!manifest.entry(b).isZero()) return false;
            }
            return true;
        }

        void close() throws IOException {
            channel.close();
            Files.deleteIfExists(file);
        }
    }

    /** One holder's view of an entry. */
    private final class Handle implements BaseImage {
        private final Entry entry;
        private boolean closed;

        Handle(Entry entry) {
            this.entry = entry;
        }

        @Override public String label() { return entry.id.toString(); }
        @Override public long size() { return entry.size; }
        @Override public void read(long offset, ByteBuffer dst) throws IOException { entry.read(offset, dst); }
        @Override public void readOnce(long offset, ByteBuffer dst) throws IOException { entry.readOnce(offset, dst); }
        @Override public boolean isZero(long offset, long length) throws IOException { return entry.isZero(offset, length); }
        @Override public long[] twins(long block) throws IOException { return entry.twins().of(block); }
        @Override public void prefetch(long offset, long length) { entry.prefetch(offset, length); }

        @Override
        public void close() throws IOException {
            synchronized (this) {
                if (closed) return;
                closed = true;
            }
            release(entry);
        }
    }
}
