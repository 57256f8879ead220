package dev.cairn.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serialised writes to the client: each {@link #send} puts its buffers on the wire back to back, so
 * replies from concurrently running requests never interleave inside one message. Uses one gathering
 * write (header + payload, no copy) when the channel supports it.
 *
 * <p><b>Threads.</b> Thread-safe; any request thread may call {@link #send}. A lock, not
 * {@code synchronized}, so a virtual thread waiting for its turn unmounts. After one write fails every
 * later one fails at once: the reply stream is no longer in step and the connection is ending.
 */
final class WireOutput {
    private final WritableByteChannel channel;
    private final GatheringByteChannel gathering;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile IOException broken;

    WireOutput(WritableByteChannel channel) {
        this.channel = channel;
        this.gathering = channel instanceof GatheringByteChannel g ? g : null;
    }

    /** Writes all remaining bytes of {@code parts}, in order, as one uninterrupted unit. */
    void send(ByteBuffer... parts) throws IOException {
        lock.lock();
        try {
            IOException failed = broken;
            if (failed != null) throw new IOException("connection already failed", failed);
            try {
                if (gathering != null) {
                    long left = 0;
                    for (ByteBuffer p : parts) left += p.remaining();
                    while (left > 0) left -= gathering.write(parts);
                } else {
                    for (ByteBuffer p : parts) {
                        while (p.hasRemaining()) channel.write(p);
                    }
                }
            } catch (IOException | RuntimeException e) {
                broken = e instanceof IOException io ? io : new IOException(e);
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    boolean broken() {
        return broken != null;
    }
}
