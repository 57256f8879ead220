package dev.cairn.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Buffered big-endian reads from the client. Small fields (headers, option data) come out of one
 * direct buffer that is refilled with whatever the channel has, so a burst of pipelined requests costs
 * one system call; large payloads are read straight into the caller's buffer.
 *
 * <p><b>Threads.</b> Not thread-safe: only the connection's reader thread uses it.
 */
final class WireInput {
    private final ReadableByteChannel channel;
    /** Unread bytes are [position, limit). */
    private final ByteBuffer buf;

    WireInput(ReadableByteChannel channel, int bufferSize) {
        this.channel = channel;
        this.buf = ByteBuffer.allocateDirect(bufferSize).limit(0);
    }

    /** Bytes already received and not yet consumed. */
    int buffered() {
        return buf.remaining();
    }

    /**
     * Makes at least {@code n} bytes (≤ buffer size) available. Returns false on end of stream before
     * any byte of them arrived (a clean close at a message boundary); throws {@link EOFException} when
     * the stream ends part-way.
     */
    boolean ensure(int n) throws IOException {
        if (buf.remaining() >= n) return true;
        buf.compact();
        try {
            while (buf.position() < n) {
                if (channel.read(buf) < 0) {
                    if (buf.position() == 0) return false;
                    throw new EOFException("client closed the connection " + buf.position() + " bytes into a " + n + "-byte message");
                }
            }
        } finally {
            buf.flip();
        }
        return true;
    }

    /** Like {@link #ensure} but end of stream is always an {@link EOFException}. */
    void require(int n) throws IOException {
        if (!ensure(n)) throw new EOFException("client closed the connection");
    }

    int u16() {
        return Short.toUnsignedInt(buf.getShort());
    }

    int i32() {
        return buf.getInt();
    }

    long i64() {
        return buf.getLong();
    }

    /** Fills {@code dst} completely: first from the buffer, then straight from the channel. */
    void readFully(ByteBuffer dst) throws IOException {
        int fromBuffer = Math.min(dst.remaining(), buf.remaining());
        if (fromBuffer > 0) {
            dst.put(dst.position(), buf, buf.position(), fromBuffer);
            dst.position(dst.position() + fromBuffer);
            buf.position(buf.position() + fromBuffer);
        }
        while (dst.hasRemaining()) {
            if (channel.read(dst) < 0) throw new EOFException("client closed the connection in the middle of a payload");
        }
    }

    /** Reads and discards {@code n} bytes (a rejected option or write payload), keeping the stream in step. */
    void skip(long n) throws IOException {
        long left = n;
        while (left > 0) {
            if (!buf.hasRemaining()) require(1);
            int step = (int) Math.min(left, buf.remaining());
            buf.position(buf.position() + step);
            left -= step;
        }
    }
}
