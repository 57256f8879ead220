package dev.cairn.nbd;

import dev.cairn.volume.Volume;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The transmission phase of one connection: read a request, {@linkplain #validate validate} it, then
 * execute it and reply (nbdkit's {@code protocol.c}: {@code validate_request} / {@code handle_request}).
 *
 * <p><b>What it keeps true.</b>
 * <ul>
 *   <li>Exactly one thread reads from the client: the connection's reader, in {@link #run}. A request
 *       that fails validation is answered by the reader itself (a refused WRITE's payload is read and
 *       dropped first, so the stream stays in step); a valid one runs on its own virtual thread, so
 *       requests execute concurrently and replies go out in completion order with the cookie echoed.</li>
 *   <li>Replies are written through {@link WireOutput}, one message at a time, so they never interleave.</li>
 *   <li>Nothing is allocated from the request's length before validation: READ/WRITE are capped at
 *       {@link Nbd#MAX_PAYLOAD}; TRIM, WRITE_ZEROES, CACHE and BLOCK_STATUS never allocate by length.</li>
 *   <li>At most {@code maxInFlight} requests and {@code maxBytesInFlight} payload bytes are in flight
 *       per connection; beyond that the reader stops reading (TCP back-pressure), which bounds memory.</li>
 *   <li>A simple-reply READ is read completely before its header is sent (an error after a success
 *       header could only be reported by hanging up); a structured READ is read completely before its
 *       chunks go out too, so a failure is one ERROR chunk and nothing else.</li>
 *   <li>Volume failures become NBD errors only through {@link NbdErrors#toWire}; a failed socket write
 *       ends the connection through {@link NbdConnection#replyFailed}.</li>
 * </ul>
 *
 * <p><b>Threads.</b> {@link #run} on the reader thread; {@code execute} on one virtual thread per
 * request; {@link #awaitIdle} from the reader (at the end) or the server (at shutdown).
 */
final class Transmission {
    private static final Logger log = LoggerFactory.getLogger(Transmission.class);

    /** Why the reader stopped. */
    enum End { DISC, EOF, PROTOCOL_ERROR }

    private static final int KNOWN_FLAGS = Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_DF
            | Nbd.CMD_FLAG_REQ_ONE | Nbd.CMD_FLAG_FAST_ZERO;
    /** A zero run shorter than this inside a READ is sent as data: a separate hole chunk is not worth it. */
    private static final int MIN_HOLE_CHUNK = 4096;
    /** More pieces than this in one READ and it is sent as a single data chunk. */
    private static final int MAX_READ_CHUNKS = 64;
    /** Reply headers and error messages are built in one small pooled buffer. */
    private static final int SCRATCH = 4096;
    private static final int MAX_MESSAGE = 1024;
    static final boolean NOEXT = Boolean.getBoolean("noext");

    private final NbdConnection conn;
    private final WireInput in;
    private final WireOutput out;
    private final Volume volume;
    private final long size;
    private final int txFlags;
    private final boolean structured;
    private final boolean baseAllocation;
    private final ConnectionConfig config;
    private final BufferPool pool;
    private final NbdMetrics metrics;
    /** One permit per request in flight. */
    private final Semaphore slots;
    /** Payload bytes in flight, in KiB. */
    private final Semaphore memory;

    /** Set by {@link #validate} for the reader only: the NBD error of the request it just refused. */
    private int refusal;

    Transmission(NbdConnection conn, WireInput in, WireOutput out, Negotiated session, ConnectionConfig config, NbdMetrics metrics) {
        this.conn = conn;
        this.in = in;
        this.out = out;
        this.volume = session.export().volume();
        this.size = session.size();
        this.txFlags = session.txFlags();
        this.structured = session.structured();
        this.baseAllocation = session.baseAllocation();
        this.config = config;
        this.pool = config.pool();
        this.metrics = metrics;
        this.slots = new Semaphore(config.maxInFlight());
        this.memory = new Semaphore(kib(config.maxBytesInFlight()));
    }

    /** A request as read off the wire; {@code payload} is the WRITE data (a pooled buffer), else null. */
    private record Request(int type, int flags, long cookie, long offset, long length, ByteBuffer payload, int memory, long started) {
        String describe() {
            return Nbd.cmdName(type) + " offset=" + offset + " length=" + length
                    + (flags == 0 ? "" : " flags=" + Nbd.cmdFlagsName(flags));
        }
    }

    // ---- the reader ---------------------------------------------------------------------------------------

    /** Reads requests until DISC, end of stream, or a stream that cannot be followed any more. */
    End run() throws IOException {
        for (;;) {
            if (!in.ensure(28)) return End.EOF;
            int magic = in.i32();
            int flags = in.u16();
            int type = in.u16();
            long cookie = in.i64();
            long offset = in.i64();
            long length = Integer.toUnsignedLong(in.i32());
            if (magic != Nbd.REQUEST_MAGIC) {
                log.info("{}: bad request magic 0x{}, disconnecting", conn, Integer.toHexString(magic));
                return End.PROTOCOL_ERROR;
            }
            if (type == Nbd.CMD_DISC) return End.DISC;
            long started = System.nanoTime();
            String problem = conn.shuttingDown() ? refuse(Nbd.ESHUTDOWN, "server is shutting down") : validate(type, flags, offset, length);
            if (problem != null) {
                if (type == Nbd.CMD_WRITE) {
                    if (length > Nbd.MAX_WRITE_DRAIN) {
                        log.info("{}: refused NBD_CMD_WRITE of {} bytes is too large to skip, disconnecting", conn, length);
                        return End.PROTOCOL_ERROR;
                    }
                    in.skip(length);
                }
                log.debug("{}: {} offset={} length={} flags={} refused with {}: {}", conn, Nbd.cmdName(type), offset, length,
                        Nbd.cmdFlagsName(flags), Nbd.errName(refusal), problem);
                replyStatus(cookie, refusal, problem);
                metrics.request(type, refusal, System.nanoTime() - started, 0, 0);
                continue;
            }
            dispatch(type, flags, cookie, offset, length, started);
        }
    }

    /**
     * Checks a request against the export and the negotiation, in nbdkit's order. Returns null when it
     * may run, else a message for the log and the client, with the NBD error in {@link #refusal}.
     */
    private String validate(int type, int flags, long offset, long length) {
        boolean writes = type == Nbd.CMD_WRITE || type == Nbd.CMD_TRIM || type == Nbd.CMD_WRITE_ZEROES;
        if (writes && (txFlags & Nbd.TX_READ_ONLY) != 0) return refuse(Nbd.EPERM, "export is read-only");
        switch (type) {
            case Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_TRIM, Nbd.CMD_WRITE_ZEROES, Nbd.CMD_CACHE, Nbd.CMD_BLOCK_STATUS -> {
                if (offset < 0 || offset > size || length > size - offset) {
                    boolean grows = type == Nbd.CMD_WRITE || type == Nbd.CMD_WRITE_ZEROES;
                    return refuse(grows ? Nbd.ENOSPC : Nbd.EINVAL, "range " + Long.toUnsignedString(offset) + "+" + length
                            + " is beyond the end of the export (" + size + " bytes)");
                }
            }
            case Nbd.CMD_FLUSH -> {
                if (offset != 0 || length != 0) return refuse(Nbd.EINVAL, "NBD_CMD_FLUSH needs offset and length 0");
            }
            case Nbd.CMD_RESIZE -> { return refuse(Nbd.EINVAL, "NBD_CMD_RESIZE is not supported"); }
            default -> { return refuse(Nbd.EINVAL, "unknown command " + type); }
        }
        if ((flags & ~KNOWN_FLAGS) != 0) return refuse(Nbd.EINVAL, String.format("unknown command flags 0x%04x", flags & ~KNOWN_FLAGS));
        if ((flags & Nbd.CMD_FLAG_NO_HOLE) != 0 && type != Nbd.CMD_WRITE_ZEROES) return refuse(Nbd.EINVAL, "NO_HOLE is only for NBD_CMD_WRITE_ZEROES");
        if ((flags & Nbd.CMD_FLAG_FAST_ZERO) != 0 && (type != Nbd.CMD_WRITE_ZEROES || (txFlags & Nbd.TX_SEND_FAST_ZERO) == 0)) {
            return refuse(Nbd.EINVAL, "FAST_ZERO is only for NBD_CMD_WRITE_ZEROES on a writable export");
        }
        if ((flags & Nbd.CMD_FLAG_DF) != 0 && (type != Nbd.CMD_READ || !structured)) {
            return refuse(Nbd.EINVAL, "DF is only for NBD_CMD_READ with structured replies");
        }
        if ((flags & Nbd.CMD_FLAG_REQ_ONE) != 0 && type != Nbd.CMD_BLOCK_STATUS) return refuse(Nbd.EINVAL, "REQ_ONE is only for NBD_CMD_BLOCK_STATUS");
        if ((flags & Nbd.CMD_FLAG_FUA) != 0 && (txFlags & Nbd.TX_SEND_FUA) == 0) return refuse(Nbd.EINVAL, "FUA is not supported on this export");
        int needed = switch (type) {
            case Nbd.CMD_TRIM -> Nbd.TX_SEND_TRIM;
            case Nbd.CMD_WRITE_ZEROES -> Nbd.TX_SEND_WRITE_ZEROES;
            case Nbd.CMD_CACHE -> Nbd.TX_SEND_CACHE;
            case Nbd.CMD_FLUSH -> Nbd.TX_SEND_FLUSH;
            default -> 0;
        };
        if ((txFlags & needed) != needed) return refuse(Nbd.EINVAL, Nbd.cmdName(type) + " was not advertised");
        if ((type == Nbd.CMD_READ || type == Nbd.CMD_WRITE) && length > Nbd.MAX_PAYLOAD) {
            return refuse(Nbd.EINVAL, Nbd.cmdName(type) + " of " + length + " bytes exceeds the maximum payload of " + Nbd.MAX_PAYLOAD);
        }
        if (type == Nbd.CMD_BLOCK_STATUS) {
            if (!baseAllocation) return refuse(Nbd.EINVAL, "no metadata context was negotiated (SET_META_CONTEXT base:allocation)");
            if (length == 0) return refuse(Nbd.EINVAL, "NBD_CMD_BLOCK_STATUS with length 0");
        }
        return null;
    }

    private String refuse(int error, String message) {
        refusal = error;
        return message;
    }

    /** Reserves room for the request, reads a WRITE's payload, and starts it on its own virtual thread. */
    private void dispatch(int type, int flags, long cookie, long offset, long length, long started) throws IOException {
        int kib = type == Nbd.CMD_READ || type == Nbd.CMD_WRITE ? kib(length) : 0;
        slots.acquireUninterruptibly();
        memory.acquireUninterruptibly(kib);
        ByteBuffer payload = null;
        boolean started_ = false;
        try {
            if (type == Nbd.CMD_WRITE) {
                payload = pool.acquire((int) length);
                in.readFully(payload);
                payload.flip();
            }
            Request request = new Request(type, flags, cookie, offset, length, payload, kib, started);
            config.workers().newThread(() -> execute(request)).start();
            started_ = true;
        } finally {
            if (!started_) {
                pool.release(payload);
                memory.release(kib);
                slots.release();
            }
        }
    }

    /**
     * Waits until no request is in flight or the deadline passes. Returns whether it is idle. The reader
     * stops dispatching before this is called at the end, so "idle" then stays idle.
     */
    boolean awaitIdle(long deadlineNanos) {
        int all = config.maxInFlight();
        try {
            if (!slots.tryAcquire(all, Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS)) return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return slots.availablePermits() == all;
        }
        slots.release(all);
        return true;
    }

    /** Waits, however long it takes, until no request is in flight: the volume is about to be released. */
    void awaitNoRequests() {
        int all = config.maxInFlight();
        slots.acquireUninterruptibly(all);
        slots.release(all);
    }

    // ---- execution (one virtual thread per request) -------------------------------------------------------

    private void execute(Request r) {
        try {
            int error = switch (r.type) {
                case Nbd.CMD_READ -> read(r);
                case Nbd.CMD_BLOCK_STATUS -> blockStatus(r);
                default -> simpleCommand(r);
            };
            long read = r.type == Nbd.CMD_READ && error == 0 ? r.length : 0;
            long written = r.type == Nbd.CMD_WRITE && error == 0 ? r.length : 0;
            metrics.request(r.type, error, System.nanoTime() - r.started, read, written);
        } catch (IOException e) {
            conn.replyFailed(e);
        } catch (Throwable t) {
            log.error("{}: {} failed unexpectedly, closing the connection", conn, r.describe(), t);
            conn.replyFailed(new IOException(t));
        } finally {
            pool.release(r.payload);
            memory.release(r.memory);
            slots.release();
        }
    }

    /** WRITE, FLUSH, TRIM, WRITE_ZEROES, CACHE: one volume call, then a status reply. */
    private int simpleCommand(Request r) throws IOException {
        boolean fua = (r.flags & Nbd.CMD_FLAG_FUA) != 0;
        int error = 0;
        try {
            switch (r.type) {
                case Nbd.CMD_WRITE -> { if (r.length > 0) volume.write(r.offset, r.payload, fua); }
                case Nbd.CMD_FLUSH -> volume.flush();
                case Nbd.CMD_TRIM -> { if (r.length > 0) volume.trim(r.offset, r.length, fua); }
                case Nbd.CMD_WRITE_ZEROES -> {
                    boolean mayPunch = (r.flags & Nbd.CMD_FLAG_NO_HOLE) == 0;
                    if ((r.flags & Nbd.CMD_FLAG_FAST_ZERO) != 0 && !volume.fastZero(mayPunch)) {
                        error = Nbd.ENOTSUP; // "not cheaper than writing": fail fast, change nothing
                    } else if (r.length > 0) {
                        volume.writeZeroes(r.offset, r.length, mayPunch, fua);
                    }
                }
                case Nbd.CMD_CACHE -> { if (r.length > 0) volume.prefetch(r.offset, r.length); }
                default -> throw new IllegalStateException("not a simple command: " + r.describe());
            }
        } catch (Exception e) {
            error = NbdErrors.toWire(e, conn + ": " + r.describe());
        }
        replyStatus(r.cookie, error, error == 0 ? null : Nbd.cmdName(r.type) + " failed: " + Nbd.errName(error));
        return error;
    }

    /**
     * READ. Simple replies: the whole range is read, then header and data go out together. Structured
     * replies: the range is mapped with {@link Volume#extents} (unless DF), data pieces are read into one
     * buffer, and every chunk — OFFSET_DATA for data, OFFSET_HOLE for zero runs, DONE on the last —
     * goes out in a single gathering write.
     */
    private int read(Request r) throws IOException {
        int length = (int) r.length;
        if (length == 0) {
            if (structured) sendChunk(r.cookie, Nbd.REPLY_TYPE_NONE); else replyStatus(r.cookie, 0, null);
            return 0;
        }
        ByteBuffer data = pool.acquire(length);
        try {
            if (!structured) {
                try {
                    volume.read(r.offset, data);
                } catch (Exception e) {
                    int error = NbdErrors.toWire(e, conn + ": " + r.describe());
                    replyStatus(r.cookie, error, null);
                    return error;
                }
                ByteBuffer header = pool.acquire(16);
                try {
                    header.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(r.cookie).flip();
                    out.send(header, data.flip());
                } finally {
                    pool.release(header);
                }
                return 0;
            }
            Pieces pieces;
            try {
                pieces = (r.flags & Nbd.CMD_FLAG_DF) != 0 || NOEXT ? Pieces.allData(length) : mapRead(r.offset, length);
                for (int i = 0; i < pieces.count; i++) {
                    if (!pieces.zero[i]) volume.read(r.offset + pieces.start[i], data.slice(pieces.start[i], pieces.length[i]));
                }
            } catch (Exception e) {
                int error = NbdErrors.toWire(e, conn + ": " + r.describe());
                replyStatus(r.cookie, error, Nbd.cmdName(r.type) + " failed: " + Nbd.errName(error));
                return error;
            }
            sendReadChunks(r, pieces, data);
            return 0;
        } finally {
            pool.release(data);
        }
    }

    /** Pieces of a READ, relative to its offset, each data or zero. */
    private static final class Pieces {
        int count;
        int[] start = new int[4];
        int[] length = new int[4];
        boolean[] zero = new boolean[4];

        static Pieces allData(int length) {
            Pieces p = new Pieces();
            p.add(0, length, false);
            return p;
        }

        void add(int at, int len, boolean isZero) {
            if (count > 0 && zero[count - 1] == isZero) {
                length[count - 1] += len;
                return;
            }
            if (count == start.length) {
                start = Arrays.copyOf(start, count * 2);
                length = Arrays.copyOf(length, count * 2);
                zero = Arrays.copyOf(zero, count * 2);
            }
            start[count] = at;
            length[count] = len;
            zero[count] = isZero;
            count++;
        }
    }

    private Pieces mapRead(long offset, int length) throws IOException {
        Pieces p = new Pieces();
        int pos = 0;
        mapping:
        while (pos < length) {
            List<Volume.Extent> extents = volume.extents(offset + pos, length - pos);
            if (extents.isEmpty()) break;
            for (Volume.Extent e : extents) {
                long abs = offset + pos;
                if (e.offset() > abs || e.end() <= abs) break mapping; // not contiguous: read the rest as data
                int end = (int) (Math.min(e.end(), offset + length) - offset);
                p.add(pos, end - pos, e.zero() && end - pos >= MIN_HOLE_CHUNK);
                pos = end;
                if (pos >= length) break mapping;
            }
        }
        if (pos < length) p.add(pos, length - pos, false);
        return p.count > MAX_READ_CHUNKS ? Pieces.allData(length) : p;
    }

    private void sendReadChunks(Request r, Pieces p, ByteBuffer data) throws IOException {
        ByteBuffer headers = pool.acquire(p.count * 32);
        try {
            int parts = 0;
            for (int i = 0; i < p.count; i++) parts += p.zero[i] ? 1 : 2;
            ByteBuffer[] wire = new ByteBuffer[parts];
            int w = 0;
            for (int i = 0; i < p.count; i++) {
                int flags = i == p.count - 1 ? Nbd.REPLY_FLAG_DONE : 0;
                int at = headers.position();
                long offset = r.offset + p.start[i];
                if (p.zero[i]) {
                    headers.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) Nbd.REPLY_TYPE_OFFSET_HOLE)
                            .putLong(r.cookie).putInt(12).putLong(offset).putInt(p.length[i]);
                    wire[w++] = headers.slice(at, 32);
                } else {
                    headers.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) Nbd.REPLY_TYPE_OFFSET_DATA)
                            .putLong(r.cookie).putInt(8 + p.length[i]).putLong(offset);
                    wire[w++] = headers.slice(at, 28);
                    wire[w++] = data.slice(p.start[i], p.length[i]);
                }
            }
            out.send(wire);
        } finally {
            pool.release(headers);
        }
    }

    /**
     * BLOCK_STATUS for base:allocation: extents from {@link Volume#extents}, flags HOLE|ZERO for holes,
     * ZERO for known-zero data, 0 for data; adjacent equal extents merged; clipped to the request (so
     * each length fits the u32 field); one extent with REQ_ONE; at most {@link Nbd#MAX_EXTENTS}.
     */
    private int blockStatus(Request r) throws IOException {
        long end = r.offset + r.length;
        boolean one = (r.flags & Nbd.CMD_FLAG_REQ_ONE) != 0;
        long[] lengths = new long[one ? 1 : 16];
        int[] states = new int[lengths.length];
        int n = 0;
        try {
            long pos = r.offset;
            mapping:
            while (pos < end) {
                List<Volume.Extent> extents = volume.extents(pos, end - pos);
                if (extents.isEmpty()) break;
                for (Volume.Extent e : extents) {
                    if (e.offset() > pos || e.end() <= pos) break mapping; // not contiguous: stop, report what we have
                    long stop = Math.min(e.end(), end);
                    int state = (e.hole() ? Nbd.STATE_HOLE : 0) | (e.zero() ? Nbd.STATE_ZERO : 0);
                    if (n > 0 && states[n - 1] == state) {
                        lengths[n - 1] += stop - pos;
                    } else {
                        if (n == Nbd.MAX_EXTENTS) break mapping;
                        if (n == lengths.length) {
                            lengths = Arrays.copyOf(lengths, n * 2);
                            states = Arrays.copyOf(states, n * 2);
                        }
                        lengths[n] = stop - pos;
                        states[n++] = state;
                    }
                    pos = stop;
                    if (one || pos >= end) break mapping;
                }
            }
        } catch (Exception e) {
            int error = NbdErrors.toWire(e, conn + ": " + r.describe());
            replyStatus(r.cookie, error, Nbd.cmdName(r.type) + " failed: " + Nbd.errName(error));
            return error;
        }
        if (n == 0) { // the volume told us nothing: "allocated, content unknown" is always a safe answer
            lengths[0] = r.length;
            states[0] = 0;
            n = 1;
        }
        int payload = 4 + 8 * n;
        ByteBuffer chunk = pool.acquire(20 + payload);
        try {
            chunk.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) Nbd.REPLY_TYPE_BLOCK_STATUS)
                    .putLong(r.cookie).putInt(payload).putInt(Nbd.CONTEXT_ID_BASE_ALLOCATION);
            for (int i = 0; i < n; i++) chunk.putInt((int) lengths[i]).putInt(states[i]);
            out.send(chunk.flip());
        } finally {
            pool.release(chunk);
        }
        return 0;
    }

    // ---- replies ----------------------------------------------------------------------------------------

    /**
     * Success is always a 16-byte simple reply (allowed for everything but READ and BLOCK_STATUS, which
     * never get here with success). An error is a structured ERROR chunk carrying {@code message} when
     * structured replies are on (a READ must get one), else a simple reply.
     */
    private void replyStatus(long cookie, int error, String message) throws IOException {
        ByteBuffer b = pool.acquire(SCRATCH);
        try {
            if (error == 0 || !structured) {
                b.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie);
            } else {
                byte[] text = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
                int len = Math.min(text.length, MAX_MESSAGE);
                b.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) Nbd.REPLY_TYPE_ERROR)
                        .putLong(cookie).putInt(6 + len).putInt(error).putShort((short) len).put(text, 0, len);
            }
            out.send(b.flip());
        } finally {
            pool.release(b);
        }
    }

    private void sendChunk(long cookie, int type) throws IOException {
        ByteBuffer b = pool.acquire(20);
        try {
            b.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) type).putLong(cookie).putInt(0);
            out.send(b.flip());
        } finally {
            pool.release(b);
        }
    }

    private static int kib(long bytes) {
        return (int) Math.min(Integer.MAX_VALUE, (bytes + 1023) >>> 10);
    }
}
