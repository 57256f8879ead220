package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The read-only content an {@link OverlayVolume} is layered over: a snapshot's blocks, served on a node
 * from its shared base cache (cairn-snapshot). Bytes past {@link #size()} read as zeros.
 *
 * <p><b>Threads.</b> All methods may be called concurrently. {@link #close()} releases this holder's
 * reference; the cache behind it may live on for other holders.
 */
public interface BaseImage extends AutoCloseable {

    /** Names the base (a manifest id): saved in the overlay's metadata and used to open it again. */
    String label();

    long size();

    /** Fills {@code dst} with the bytes at {@code offset} (zeros past the end). */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * {@link #read} for bytes the caller reads once and keeps (a flatten copying blocks into its disk):
     * they need not go through, or stay in, a cache, and a range of whole blocks may be fetched
     * together. By default the same as {@link #read}.
     */
    default void readOnce(long offset, ByteBuffer dst) throws IOException {
        read(offset, dst);
    }

    /**
     * A hint that the bytes at {@code offset} will be read soon (a flatten's next stretch): the base may
     * start fetching them in the background so the read finds them near. Never fails; by default a no-op.
     */
    default void prefetch(long offset, long length) {}

    /**
     * Other blocks of the base known to hold the same bytes as block {@code block} (of the overlay's
     * block size), in block order: a flatten that read the block writes them from the same bytes instead
     * of reading each again. Never the block itself or a zero block; by default none.
     */
    default long[] twins(long block) throws IOException {
        return NO_TWINS;
    }

    /** No twins (empty: shared, nothing to change). */
    long[] NO_TWINS = new long[0];

    /** True if the block-sized range at {@code offset} is known to be all zeros without reading it. */
    boolean isZero(long offset, long length) throws IOException;

    @Override
    void close() throws IOException;

    /** Opens bases by label: how {@link VolumeManager} reattaches overlays at start-up. */
    @FunctionalInterface
    interface Resolver {
        BaseImage open(String label) throws IOException;

        Resolver NONE = label -> {
            throw new IOException("no base images on this node (asked for " + label + ")");
        };
    }
}
