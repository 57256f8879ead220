package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A cloud disk stored as one sparse file ({@code volumes/<disk-id>.raw}): byte {@code i} of the disk is
 * byte {@code i} of the file, so any raw-image tool can read it. Never-written, trimmed and zeroed ranges
 * are holes, which take no space and read as zeros.
 *
 * <p><b>What is true at every instant.</b> The file length equals {@link #size()} (set before the size is
 * published on resize). Data acknowledged by {@link #write} is in the page cache; it is on the disk once
 * {@link #flush()} returns (fdatasync, or a full fsync when a trim/resize changed metadata since the
 * last flush), or at once for FUA writes. A crash at any instant leaves every flushed byte intact and
 * unflushed bytes either old or new per 512-byte sector, as on a real disk.
 *
 * <p><b>Threads.</b> All methods are safe to call concurrently. Data calls run under the read side of
 * {@code resizeLock} (they never block each other); {@link #resize} and {@link #close} take the write
 * side so no call sees a half-changed size or a closed file.
 */
public final class SparseFileVolume implements Volume {
    /** BLOCK_STATUS and friends are answered in bounded pieces; callers ask again from the last end. */
    private static final int MAX_EXTENTS_PER_CALL = 4096;
    /** Sent through a buffer when sendfile finds the target full: small, since its only job is to wait for room. */
    private static final int TRANSFER_WAIT_PIECE = 16 * 1024;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private final Path path;
    private final boolean readOnly;
    private final FileChannel channel;
    private final NativeFile nativeFile;
    private final ReentrantReadWriteLock resizeLock = new ReentrantReadWriteLock();
    private volatile long size;
    /** Set by calls that change file metadata (holes, length) so the next flush syncs metadata too. */
    private volatile boolean metadataDirty;
    private volatile boolean zeroRangeUnsupported;
    /** A second descriptor with O_DIRECT for {@link #writeBulk} and {@link #readBulk}, opened on first use; {@link #NO_DIRECT} if the file system refuses it. */
    private final java.util.concurrent.atomic.AtomicReference<Object> direct = new java.util.concurrent.atomic.AtomicReference<>();
    private static final Object NO_DIRECT = new Object();
    private static final int DIRECT_ALIGNMENT = 4096;
    private boolean closed;

    private SparseFileVolume(Path path, boolean readOnly, FileChannel channel, NativeFile nativeFile, long size) {
        this.path = path;
        this.readOnly = readOnly;
        this.channel = channel;
        this.nativeFile = nativeFile;
        this.size = size;
    }

    /**
     * Creates a new empty (all-hole) file of {@code size} bytes. Fails if it exists. The file and its
     * directory entry are durable on return.
     */
    public static SparseFileVolume create(Path file, long size) throws IOException {
        checkSize(size);
        Files.createDirectories(file.getParent());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            try (NativeFile nf = NativeFile.open(file, false)) {
                nf.truncate(size);
            }
            ch.force(true);
        }
        AtomicFiles.syncDirectory(file.getParent());
        return open(file, false);
    }

    /** Opens an existing volume file; its length is the volume size. */
    public static SparseFileVolume open(Path file, boolean readOnly) throws IOException {
        FileChannel ch = readOnly
                ? FileChannel.open(file, StandardOpenOption.READ)
                : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            NativeFile nf = NativeFile.open(file, readOnly);
            long size = ch.size();
            if (size % 512 != 0) {
                nf.close();
                throw new IOException("volume file " + file + " has size " + size + ", not a multiple of 512");
            }
            return new SparseFileVolume(file, readOnly, ch, nf, size);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        readFully(channel, offset, dst);
    }

    private void readFully(FileChannel from, long offset, ByteBuffer dst) throws IOException {
        resizeLock.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, dst.remaining());
            long pos = offset;
            while (dst.hasRemaining()) {
                int n = from.read(dst, pos);
                if (n < 0) { // cannot happen while length == size; never hand back stale buffer bytes
                    throw new IOException("unexpected end of " + path + " at " + pos);
                }
                pos += n;
            }
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    /**
     * Reads with O_DIRECT into an aligned direct buffer, unless the range is all in the page cache
     * (then a plain read is a memory copy, where O_DIRECT would go to the device) or the range, the
     * buffer or the file system does not allow it. The kernel writes back dirty pages of the range
     * before a direct read, so it returns what {@link #read} would.
     */
    @Override
    public void readBulk(long offset, ByteBuffer dst) throws IOException {
        boolean aligned = dst.isDirect() && offset % DIRECT_ALIGNMENT == 0 && dst.remaining() % DIRECT_ALIGNMENT == 0
                && dst.alignmentOffset(dst.position(), DIRECT_ALIGNMENT) == 0;
        FileChannel d = aligned && !nativeFile.cached(offset, dst.remaining()) ? directChannel() : null;
        readFully(d != null ? d : channel, offset, dst);
    }

    /**
     * A sendfile transfer when every page of the range is in the page cache ({@code cachestat}), else
     * null, so a read that needs the disk keeps going through {@link #read} on the caller's thread. The
     * transfer holds no lock: the volume only grows, and a channel closed under it just fails it. A
     * virtual thread's socket is non-blocking underneath, so a full socket makes sendfile return 0; one
     * small piece then goes through {@link #read} and the target's own {@code write}, which waits for
     * room, and sendfile resumes.
     */
    @Override
    public Transfer transfer(long offset, long length) throws IOException {
        resizeLock.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, length);
            if (length == 0 || !nativeFile.cached(offset, length)) return null;
        } finally {
            resizeLock.readLock().unlock();
        }
        return target -> {
            long pos = offset, end = offset + length;
            ByteBuffer piece = null;
            while (pos < end) {
                long n = channel.transferTo(pos, end - pos, target);
                if (n > 0) {
                    pos += n;
                    continue;
                }
                if (piece == null) piece = ByteBuffer.allocate(TRANSFER_WAIT_PIECE);
                piece.clear().limit((int) Math.min(piece.capacity(), end - pos));
                read(pos, piece);
                piece.flip();
                while (piece.hasRemaining()) target.write(piece);
                pos += piece.limit();
            }
        };
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        resizeLock.readLock().lock();
        try {
            checkWritable();
            checkRange(offset, src.remaining());
            long pos = offset;
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
            if (fua) channel.force(false);
        } catch (IOException e) {
            throw VolumeFullException.classify(e, path.getFileName().toString());
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    /**
     * Writes a large page-aligned range around the page cache (O_DIRECT), for bulk copies such as a
     * flatten: they would otherwise fill the cache with pages nobody reads soon and then wait on the
     * kernel's writeback, which on this kind of machine runs far below the device's speed. Falls back to
     * {@link #write} when the range is not aligned or the file system has no direct I/O. Like a
     * write, durable once {@link #flush} returns (the flush then also syncs the blocks' allocation).
     */
    public void writeBulk(long offset, ByteBuffer src) throws IOException {
        FileChannel d = offset % DIRECT_ALIGNMENT == 0 && src.remaining() % DIRECT_ALIGNMENT == 0 ? directChannel() : null;
        if (d == null) {
            write(offset, src, false);
            return;
        }
        resizeLock.readLock().lock();
        try {
            checkWritable();
            checkRange(offset, src.remaining());
            long pos = offset;
            while (src.hasRemaining()) pos += d.write(src, pos);
            metadataDirty = true; // it may have filled a hole
        } catch (IOException e) {
            throw VolumeFullException.classify(e, path.getFileName().toString());
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    private FileChannel directChannel() {
        Object d = direct.get();
        if (d == null) {
            try {
                d = readOnly ? FileChannel.open(path, StandardOpenOption.READ, com.sun.nio.file.ExtendedOpenOption.DIRECT)
                        : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
            } catch (IOException | UnsupportedOperationException e) {
                d = NO_DIRECT; // e.g. tmpfs: EINVAL
            }
            if (!direct.compareAndSet(null, d)) {
                if (d instanceof FileChannel mine) closeQuietly(mine);
                d = direct.get();
            }
        }
        return d instanceof FileChannel ch ? ch : null;
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // a descriptor that was never used
        }
    }

    @Override
    public void flush() throws IOException {
        resizeLock.readLock().lock();
        try {
            checkOpen();
            if (readOnly) return;
            boolean metadata = metadataDirty;
            metadataDirty = false; // cleared before the sync: a concurrent change sets it again and is not lost
            try {
                channel.force(metadata);
            } catch (IOException e) {
                metadataDirty |= metadata;
                throw e;
            }
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    /**
     * Allocates the range's blocks without changing what it reads ({@code fallocate} keeping the size):
     * a bulk copy about to fill many holes then writes into blocks that exist, instead of allocating
     * under the file's lock at every write, which serializes parallel writers.
     */
    public void preallocate(long offset, long length) throws IOException {
        changeRange(offset, length, () -> nativeFile.allocate(offset, length));
    }

    /** Runs a change of the range's allocation under the resize lock, marking metadata for the next flush; a full disk becomes {@link VolumeFullException}. */
    private void changeRange(long offset, long length, RangeChange change) throws IOException {
        resizeLock.readLock().lock();
        try {
            checkWritable();
            checkRange(offset, length);
            if (length == 0) return;
            metadataDirty = true;
            change.run();
        } catch (IOException e) {
            throw VolumeFullException.classify(e, path.getFileName().toString());
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    @FunctionalInterface
    private interface RangeChange {
        void run() throws IOException;
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        writeZeroes(offset, length, true, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException {
        changeRange(offset, length, () -> {
            if (mayPunch) {
                nativeFile.punchHole(offset, length);
            } else {
                zeroAllocated(offset, length);
            }
            if (fua) channel.force(true);
        });
    }

    /** Zeroes while keeping the range allocated: FALLOC_FL_ZERO_RANGE, else write zeros (e.g. on tmpfs). */
    private void zeroAllocated(long offset, long length) throws IOException {
        if (!zeroRangeUnsupported) {
            try {
                nativeFile.zeroRange(offset, length);
                return;
            } catch (NativeFile.NativeIOException e) {
                if (e.errno != NativeFile.EOPNOTSUPP) throw e;
                zeroRangeUnsupported = true;
            }
        }
        long pos = offset, end = offset + length;
        while (pos < end) {
            ByteBuffer zeros = ZEROS.duplicate();
            zeros.limit((int) Math.min(zeros.capacity(), end - pos));
            while (zeros.hasRemaining()) pos += channel.write(zeros, pos);
        }
    }

    @Override
    public boolean fastZero(boolean mayPunch) {
        return mayPunch || !zeroRangeUnsupported;
    }

    @Override
    public void prefetch(long offset, long length) throws IOException {
        resizeLock.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, length);
            nativeFile.willNeed(offset, length);
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        resizeLock.readLock().lock();
        try {
            checkOpen();
            checkRange(offset, length);
            List<Extent> out = new ArrayList<>();
            long end = offset + length, limit = size, pos = offset;
            while (pos < end && out.size() < MAX_EXTENTS_PER_CALL) {
                long data = nativeFile.seekData(pos);
                if (data < 0 || data >= limit) { // the rest of the file is a hole
                    out.add(new Extent(pos, limit - pos, true, true));
                    break;
                }
                if (data > pos) {
                    out.add(new Extent(pos, data - pos, true, true));
                    pos = data;
                    continue;
                }
                long hole = nativeFile.seekHole(pos);
                long dataEnd = hole < 0 ? limit : Math.min(hole, limit);
                out.add(new Extent(pos, dataEnd - pos, false, false));
                pos = dataEnd;
            }
            return out;
        } finally {
            resizeLock.readLock().unlock();
        }
    }

    @Override
    public void resize(long newSize) throws IOException {
        checkSize(newSize);
        resizeLock.writeLock().lock();
        try {
            checkWritable();
            if (newSize < size) throw new IllegalArgumentException("volumes only grow: " + size + " -> " + newSize);
            if (newSize == size) return;
            nativeFile.truncate(newSize);
            channel.force(true); // the new length is durable before anyone may write past the old end
            size = newSize;
        } finally {
            resizeLock.writeLock().unlock();
        }
    }

    @Override
    public void close() throws IOException {
        resizeLock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            if (direct.get() instanceof FileChannel d) closeQuietly(d);
            try (channel; nativeFile) {
                if (!readOnly) channel.force(true);
            }
        } finally {
            resizeLock.writeLock().unlock();
        }
    }

    private void checkOpen() throws IOException {
        if (closed) throw new IOException("volume " + path.getFileName() + " is closed");
    }

    private void checkWritable() throws IOException {
        checkOpen();
        if (readOnly) throw new ReadOnlyVolumeException(path.getFileName().toString());
    }

    private void checkRange(long offset, long length) {
        long s = size;
        if (offset < 0 || length < 0 || offset > s || length > s - offset) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside volume of " + s + " bytes");
        }
    }

    private static void checkSize(long size) {
        if (size <= 0 || size % 512 != 0) throw new IllegalArgumentException("volume size must be a positive multiple of 512, got " + size);
    }

    @Override
    public String toString() {
        return "SparseFileVolume[" + path + ", " + size + " bytes" + (readOnly ? ", read-only" : "") + "]";
    }
}
