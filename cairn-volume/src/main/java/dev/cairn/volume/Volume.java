package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;

/**
 * A live block device: the bytes of one cloud disk.
 *
 * <p><b>Durability contract.</b> A write (or trim, or zeroing) is durable once a later {@link #flush()}
 * has returned, or at once when it was made with {@code fua = true}. Nothing acknowledged and then
 * flushed is ever lost, whatever crash follows. All connections to one disk share one {@code Volume}
 * object, so a flush through any of them covers the writes of all of them (NBD's CAN_MULTI_CONN).
 *
 * <p><b>Threads.</b> Every method may be called from many threads at once. Concurrent writes to
 * overlapping ranges land in some order, as on a real disk; reads never see torn metadata.
 *
 * <p><b>Ranges.</b> Callers pass ranges inside {@code [0, size())}; implementations check and throw
 * {@link IllegalArgumentException} otherwise, so a bug never writes past the end.
 */
public interface Volume extends AutoCloseable {

    /** Current size in bytes, a multiple of 512. May grow while open (online resize). */
    long size();

    /** True when every write-like call fails with {@link ReadOnlyVolumeException}. */
    boolean readOnly();

    /** Fills {@code dst} completely with the bytes at {@code offset}; never-written ranges read as zeros. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * {@link #read} for a large read nobody will repeat soon (a capture reading a block once): where it
     * can, it bypasses the page cache, which would cost a copy of every byte and push the disk's hot
     * pages out. The default: {@link #read}.
     */
    default void readBulk(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst);
    }

    /**
     * A way to send the bytes at {@code [offset, offset + length)} — what {@link #read} would return —
     * to a channel without copying them through a buffer (a sparse file: sendfile from the page cache),
     * or null when that is not possible or not cheap right now, e.g. the data is not all in memory. On
     * null the caller reads instead, so slow disk reads stay on its thread and their failures come back
     * from {@link #read}, before anything was sent. A returned transfer may still fail (the data was
     * evicted meanwhile and reading it back failed, or the channel failed) after writing part of the
     * range, so then the caller must give the channel up. The default: always null.
     */
    default Transfer transfer(long offset, long length) throws IOException {
        return null;
    }

    /** Writes one prepared range to a channel, completely; see {@link #transfer}. */
    @FunctionalInterface
    interface Transfer {
        void writeTo(WritableByteChannel target) throws IOException;
    }

    /** Writes all of {@code src} at {@code offset}; with {@code fua} it is durable before return. */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    /** Makes every write that returned before this call durable. */
    void flush() throws IOException;

    /** Discards a range: it reads back as zeros and its space is freed where the file system allows. */
    void trim(long offset, long length, boolean fua) throws IOException;

    /**
     * Makes a range read as zeros. With {@code mayPunch} the space may be freed (a hole); without it
     * the range stays allocated (NBD's NO_HOLE).
     */
    void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException;

    /**
     * True when {@link #writeZeroes} of this kind is cheap (no data is written), which is what NBD's
     * FAST_ZERO asks. Sparse files answer true for both kinds on Linux (punch hole, zero range).
     */
    boolean fastZero(boolean mayPunch);

    /** A hint that the range will be read soon. Has no effect on content. */
    void prefetch(long offset, long length) throws IOException;

    /**
     * Allocation map of {@code [offset, offset + length)}: consecutive extents, each non-empty, covering
     * at least the first byte of the range (none when {@code length} is 0) and at most up to {@link #size()}. Adjacent extents differ in kind.
     * May return fewer extents than the range needs (the caller asks again from where it ends).
     */
    List<Extent> extents(long offset, long length) throws IOException;

    /** Grows the volume to {@code newSize} bytes (a multiple of 512); new space reads as zeros. */
    void resize(long newSize) throws IOException;

    /** Flushes and releases the volume. Idempotent. */
    @Override
    void close() throws IOException;

    /** A run of bytes with one allocation state. {@code hole} ⇒ not allocated; {@code zero} ⇒ reads as zeros. */
    record Extent(long offset, long length, boolean hole, boolean zero) {
        public Extent {
            if (offset < 0 || length <= 0) throw new IllegalArgumentException("bad extent " + offset + "+" + length);
        }
        public long end() { return offset + length; }
    }
}
