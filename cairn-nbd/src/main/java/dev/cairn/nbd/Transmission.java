package dev.cairn.nbd;

import dev.cairn.volume.Volume;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The transmission phase of one connection: read a request, {@linkplain #validate validate} it, then
 * execute it and reply (nbdkit's {@code protocol.c}: {@code validate_request} / {@code handle_request}).
 *
 * <p><b>What it keeps true.</b>
 * <ul>
 *   <li>One reader at a time: the thread holding the reader role (see {@link #serve}). It parses and
 *       validates the next request; a refused one it answers itself (a refused WRITE's payload is read
 *       and dropped first, so the stream stays in step). A valid one it passes to an idle request
 *       thread and reads on, or runs itself ({@link #runsInline}; a WRITE after passing the role on) —
 *       so requests run concurrently on as many virtual threads as are in flight and replies go out in
 *       completion order, the cookie echoed verbatim.</li>
 *   <li>Replies are submitted to {@link WireOutput}, which writes whole messages only, so they never
 *       interleave; a request stays in flight (holding its slot and buffers) until its reply is written.</li>
 *   <li>Nothing is allocated from the request's length before validation: READ/WRITE are capped at
 *       {@link Nbd#MAX_PAYLOAD}; TRIM, WRITE_ZEROES, CACHE and BLOCK_STATUS never allocate by length.</li>
 *   <li>At most {@code maxInFlight} requests and {@code maxBytesInFlight} payload bytes are in flight
 *       per connection; beyond that the reader stops reading (TCP back-pressure), which bounds memory.</li>
 *   <li>A simple-reply READ is read completely before its header is sent (an error after a success
 *       header could only be reported by hanging up); a structured READ is read completely before its
 *       chunks go out too, so a failure is one ERROR chunk and nothing else. The exception: a READ of
 *       64 KiB or more whose data is all in the page cache is sent from there with sendfile (see
 *       {@link #read}); it can only fail after its header if the data is evicted meanwhile and reading
 *       it back fails, and then the connection is closed.</li>
 *   <li>Volume failures become NBD errors only through {@link NbdErrors#toWire}; a failed socket write
 *       ends the connection through {@link NbdConnection#replyFailed}.</li>
 * </ul>
 *
 * <p><b>Threads.</b> {@link #run} on the connection's thread, which is the first reader; more virtual
 * threads join {@link #serve} on demand (at most one per in-flight slot), run requests passed to them
 * or take over reading, and end when reading ends.
 * {@link #rescueIfStalled} runs on the server's watchdog; {@link #awaitIdle} and {@link #awaitNoRequests}
 * on the connection thread (at the end) or the server (at shutdown). No request thread is ever
 * interrupted: an interrupt during a FileChannel call would close the volume's channel for everyone.
 */
final class Transmission {
    private static final Logger log = LoggerFactory.getLogger(Transmission.class);

    /** Why the reader stopped. */
    enum End { DISC, EOF, PROTOCOL_ERROR }

    private static final int KNOWN_FLAGS = Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_DF
            | Nbd.CMD_FLAG_REQ_ONE | Nbd.CMD_FLAG_FAST_ZERO;
    /**
     * READs shorter than this are sent as one data chunk without asking for the allocation map: the two
     * lseek(SEEK_DATA/SEEK_HOLE) calls cost more than the few zero bytes a hole chunk would save
     * (measured: 4 KiB random reads at queue depth 32 lose ~20% with the map).
     */
    private static final int MIN_MAPPED_READ = 16 * 1024;
    /** A zero run shorter than this inside a READ is sent as data: a separate hole chunk is not worth it. */
    private static final int MIN_HOLE_CHUNK = 4096;
    /** More pieces than this in one READ and it is sent as a single data chunk. */
    private static final int MAX_READ_CHUNKS = 64;
    /**
     * READs from this size up are sent from the page cache without a copy when they can be (see
     * {@link #read}); below it the copy is cheap and a buffered reply goes out in one write.
     */
    private static final int ZERO_COPY_MIN = 64 * 1024;
    /** Reply headers and error messages are built in one small pooled buffer. */
    private static final int SCRATCH = 4096;
    private static final int MAX_MESSAGE = 1024;
    /** Largest READ/WRITE the reader may run itself (see {@link #runsInline}): tens of µs from the page cache. */
    private static final int INLINE_MAX_LENGTH = 128 * 1024;
    /** An inline request running longer than this loses the reader role to another thread. */
    static final long RESCUE_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /** After a rescue, requests run on their own threads for this long. */
    private static final long INLINE_BAN_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

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

    // The reader role (see serve). Only its holder touches `in` and `refusal`; the role passes through
    // `wake` (release/acquire), thread start, or the CAS on `inlineRequest`, each a happens-before edge.
    /**
     * Idle request threads wait here. Each permit stands for a request queued in {@link #work} or for
     * the reader role: a woken thread runs the next queued request, or takes the role if none is left.
     */
    private final Semaphore wake = new Semaphore(0);
    /** Requests the reader has read and passed on, waiting for an idle thread (see {@link #dispatch}). */
    private final ConcurrentLinkedQueue<Request> work = new ConcurrentLinkedQueue<>();
    private final AtomicInteger idle = new AtomicInteger();
    /** Requests passed on by {@link #dispatch} that no thread has started to run yet. */
    private final AtomicInteger waiting = new AtomicInteger();
    /** Request threads started so far, the connection's own thread included. */
    private final AtomicInteger threads = new AtomicInteger(1);
    /** The request the reader is running inline, while it runs; the watchdog may take it (see rescueIfStalled). */
    private final AtomicReference<Request> inlineRequest = new AtomicReference<>();
    /** No inline runs before this nanoTime (set when one had to be rescued). */
    private volatile long inlineBannedUntil = System.nanoTime();
    /** Why reading stopped; null while requests are still read. */
    private volatile End end;
    /** The I/O failure that stopped reading, if any (written before {@link #end}). */
    private volatile IOException endFailure;
    /** Set by {@link #validate}: the NBD error of the request it just refused. */
    private int refusal;
    /** Requests read so far (written by the reader only; read by the watchdog). */
    private volatile long requestsRead;
    /** The watchdog's own copy of {@link #requestsRead} at its previous tick. */
    private long requestsSeenByWatchdog;

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

    /**
     * One request from header to reply written. The reader fills the header fields; whoever executes it
     * attaches the buffers its reply uses; {@link #written} (run once by {@link WireOutput}) releases
     * them, its memory and its in-flight slot, and counts it.
     */
    private final class Request implements WireOutput.Written {
        final int type, flags;
        final long cookie, offset, length, started;
        int memoryKib;       // reserved in `memory`
        ByteBuffer payload;  // WRITE data
        ByteBuffer data;     // READ data
        ByteBuffer header;   // reply headers / small payloads
        int error;
        boolean abandoned;   // the client left before sending all of it: not counted
        private boolean completed;

        Request(int type, int flags, long cookie, long offset, long length, long started) {
            this.type = type;
            this.flags = flags;
            this.cookie = cookie;
            this.offset = offset;
            this.length = length;
            this.started = started;
        }

        String describe() {
            return Nbd.cmdName(type) + " offset=" + offset + " length=" + length
                    + (flags == 0 ? "" : " flags=" + Nbd.cmdFlagsName(flags));
        }

        /**
         * Reply on the wire (or never going to be): release everything this request held. Runs once;
         * the guard only stops a second call on the same thread (a failure path after a submit).
         */
        @Override
        public void written(boolean ok) {
            if (completed) return;
            completed = true;
            pool.release(payload);
            pool.release(data);
            pool.release(header);
            payload = data = header = null;
            memory(-memoryKib);
            boolean success = ok && error == 0;
            if (!abandoned) {
                metrics.request(type, error, System.nanoTime() - started,
                        success && type == Nbd.CMD_READ ? length : 0, success && type == Nbd.CMD_WRITE ? length : 0);
            }
            slots.release();
            if (!ok) conn.replyFailed(new IOException("reply to " + describe() + " could not be written"));
        }
    }

    /** Reserves (positive) or returns (negative) payload memory, in KiB; reserving waits for room. */
    private void memory(int kib) {
        if (kib < 0) memory.release(-kib); else if (kib > 0) memory.acquireUninterruptibly(kib);
    }

    // ---- the reader role ------------------------------------------------------------------------------------

    /**
     * Serves requests until DISC, end of stream, or a stream that cannot be followed any more; returns
     * why. The calling (connection) thread is the first reader; see {@link #serve}. A client that
     * vanished mid-request surfaces as the IOException that ended the reading.
     */
    End run() throws IOException {
        serve(true);
        IOException failure = endFailure;
        if (failure != null) throw failure;
        return end;
    }

    /**
     * The loop every request thread runs. Exactly one thread at a time holds the reader role: it reads
     * one request and then
     * <ul>
     *   <li>runs it itself and goes on reading ({@link #runsInline}: a small READ/WRITE when nothing more
     *       has arrived, or when the requests it passed on have not even started yet — at queue depth 1
     *       this costs no thread hand-off at all), or</li>
     *   <li>passes the request to an idle request thread ({@link #dispatch}, starting one if none is idle,
     *       up to one per in-flight slot) and reads on, or</li>
     *   <li>for a WRITE, whose payload it has just read and still has in cache, passes the reader role
     *       on instead ({@link #handOff}) and runs the write itself (measured: 4 KiB random writes at
     *       queue depth 32 are ~15 % faster this way than passed on, 1 MiB writes ~40 %).</li>
     * </ul>
     * So the reader does not wait for another thread to be scheduled before it reads the next request:
     * pipelined requests are read and handed out at once and run concurrently. (Passing the reader role
     * on with every request chained each read behind a trip through the virtual-thread scheduler's
     * queue, which with several busy connections is long.) An inline request that takes longer than
     * {@link #RESCUE_AFTER_NANOS} has the role taken from it by the server's watchdog
     * ({@link #rescueIfStalled}), so a slow volume call never stops the reading for long. Replies go out
     * in completion order.
     */
    private void serve(boolean reader) {
        for (;;) {
            if (!reader) {
                idle.incrementAndGet();
                wake.acquireUninterruptibly();
                idle.decrementAndGet();
                Request queued = work.poll();
                if (queued != null) {
                    waiting.decrementAndGet();
                    execute(queued);
                    continue;
                }
                // no request left for this permit: it stood for the reader role (or the end)
            }
            reader = true;
            if (end != null) return;
            Request r;
            try {
                r = readRequest();
            } catch (IOException e) {
                finish(End.EOF, e);
                return;
            } catch (RuntimeException | Error e) {
                log.error("{}: reading a request failed unexpectedly", conn, e);
                finish(End.PROTOCOL_ERROR, new IOException(e));
                return;
            }
            if (r == null) {
                if (end != null) return; // readRequest ended the reading (and woke everyone)
                continue;                // refused and answered: read the next one
            }
            if (runsInline(r)) {
                inlineRequest.set(r);
                execute(r);
                reader = inlineRequest.compareAndSet(r, null); // false: the watchdog passed the role on meanwhile
            } else if (r.type == Nbd.CMD_WRITE) {
                handOff();
                execute(r);
                reader = false;
            } else {
                dispatch(r);
            }
        }
    }

    /**
     * Whether the reader runs this request itself instead of passing it on: a small READ or a small
     * WRITE without FUA, when a watchdog can rescue a stall, no inline request was rescued lately, and
     * either no further request is buffered or the requests passed on before are still waiting for a
     * thread (passing on more would only queue them behind those, and cost a hand-off each).
     */
    private boolean runsInline(Request r) {
        return config.inlineSmallRequests()
                && (r.type == Nbd.CMD_READ || (r.type == Nbd.CMD_WRITE && (r.flags & Nbd.CMD_FLAG_FUA) == 0))
                && r.length <= INLINE_MAX_LENGTH
                && (in.buffered() == 0 || waiting.get() > 0)
                && r.started - inlineBannedUntil > 0;
    }

    /**
     * Passes a request to an idle request thread, or to a new one while below the in-flight limit; with
     * every thread busy it waits in {@link #work} for the first to finish. Only if no thread could be
     * started (out of memory) does the reader run it itself, so it never waits for a thread that is not
     * there.
     */
    private void dispatch(Request r) {
        waiting.incrementAndGet();
        if (idle.get() == 0) {
            if (startThread(() -> {
                waiting.decrementAndGet();
                execute(r);
                serve(false);
            })) {
                return;
            }
            if (threads.get() < config.maxInFlight()) {
                waiting.decrementAndGet();
                execute(r);
                return;
            }
        }
        work.add(r);
        wake.release(); // an idle thread, or the next one to become idle, runs it
    }

    /** Passes the reader role to an idle request thread, or a new one while below the in-flight limit. */
    private void handOff() {
        if (idle.get() == 0 && startThread(() -> serve(true))) return;
        wake.release(); // an idle thread, or the next one to become idle, takes the role
    }

    /** Starts a request thread unless there is one per in-flight slot already; false if none was started. */
    private boolean startThread(Runnable body) {
        int n;
        do {
            n = threads.get();
            if (n >= config.maxInFlight()) return false;
        } while (!threads.compareAndSet(n, n + 1));
        try {
            config.workers().newThread(body).start();
            return true;
        } catch (RuntimeException | OutOfMemoryError e) {
            threads.decrementAndGet();
            log.warn("{}: cannot start a request thread ({}); an idle one takes over", conn, e.toString());
            return false;
        }
    }

    /**
     * Called by the server's watchdog (every millisecond while busy): if the reader has been running a
     * request inline for too long, give the reader role to another thread, and run requests on their
     * own threads for a while (this volume is slow at the moment). Returns whether requests were read
     * since the previous call or one is running inline.
     */
    boolean rescueIfStalled(long now) {
        Request r = inlineRequest.get();
        if (r != null && now - r.started > RESCUE_AFTER_NANOS && inlineRequest.compareAndSet(r, null)) {
            inlineBannedUntil = now + INLINE_BAN_NANOS;
            log.debug("{}: {} has run for over {} µs; another thread takes over reading", conn, r.describe(), RESCUE_AFTER_NANOS / 1000);
            handOff();
        }
        long read = requestsRead;
        boolean active = read != requestsSeenByWatchdog || r != null;
        requestsSeenByWatchdog = read;
        return active;
    }

    /** Reading is over: record why and wake every idle thread so each can leave. */
    private void finish(End why, IOException failure) {
        endFailure = failure;
        end = why;
        wake.release(threads.get() + 1);
    }

    /**
     * Reads one request. Returns it when it is to be executed; returns null when it was refused (and
     * answered) here, or when reading ended ({@link #end} set: DISC, end of stream, bad magic).
     */
    private Request readRequest() throws IOException {
        if (!in.ensure(28)) {
            finish(End.EOF, null);
            return null;
        }
        int magic = in.i32();
        int flags = in.u16();
        int type = in.u16();
        long cookie = in.i64();
        long offset = in.i64();
        long length = Integer.toUnsignedLong(in.i32());
        if (magic != Nbd.REQUEST_MAGIC) {
            log.info("{}: bad request magic 0x{}, disconnecting", conn, Integer.toHexString(magic));
            finish(End.PROTOCOL_ERROR, null);
            return null;
        }
        if (type == Nbd.CMD_DISC) {
            finish(End.DISC, null);
            return null;
        }
        long started = System.nanoTime();
        requestsRead++; // only the reader writes it
        String problem = conn.shuttingDown() ? refuse(Nbd.ESHUTDOWN, "server is shutting down") : validate(type, flags, offset, length);
        if (problem != null) {
            if (type == Nbd.CMD_WRITE) {
                if (length > Nbd.MAX_WRITE_DRAIN) {
                    log.info("{}: refused NBD_CMD_WRITE of {} bytes is too large to skip, disconnecting", conn, length);
                    finish(End.PROTOCOL_ERROR, null);
                    return null;
                }
                in.skip(length);
            }
            log.debug("{}: {} offset={} length={} flags={} refused with {}: {}", conn, Nbd.cmdName(type), offset, length,
                    Nbd.cmdFlagsName(flags), Nbd.errName(refusal), problem);
            slots.acquireUninterruptibly(); // even a refusal's reply is in flight until written
            replyStatus(new Request(type, flags, cookie, offset, length, started), refusal, problem);
            return null;
        }
        Request r = new Request(type, flags, cookie, offset, length, started);
        slots.acquireUninterruptibly();
        boolean ready = false;
        try {
            r.memoryKib = type == Nbd.CMD_READ || type == Nbd.CMD_WRITE ? kib(length) : 0;
            memory(r.memoryKib);
            if (type == Nbd.CMD_WRITE) {
                r.payload = pool.acquire((int) length);
                in.readFully(r.payload);
                r.payload.flip();
            }
            ready = true;
            return r;
        } finally {
            if (!ready) { // the payload never arrived: release what was reserved
                r.abandoned = true;
                r.written(true);
            }
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

    // ---- execution (the thread that read the request) ---------------------------------------------------------

    /** Runs a request and submits its reply. Never throws; the request is always completed exactly once. */
    private void execute(Request r) {
        try {
            switch (r.type) {
                case Nbd.CMD_READ -> read(r);
                case Nbd.CMD_BLOCK_STATUS -> blockStatus(r);
                default -> simpleCommand(r);
            }
        } catch (Throwable t) { // a bug, or out of memory: this connection cannot go on
            log.error("{}: {} failed unexpectedly, closing the connection", conn, r.describe(), t);
            r.error = Nbd.EIO;
            r.written(false);
        }
    }

    /** WRITE, FLUSH, TRIM, WRITE_ZEROES, CACHE: one volume call, then a status reply. */
    private void simpleCommand(Request r) {
        boolean fua = (r.flags & Nbd.CMD_FLAG_FUA) != 0;
        int error = 0;
        try {
            switch (r.type) {
                case Nbd.CMD_WRITE -> { if (r.length > 0) volume.write(r.offset, r.payload, fua); }
                case Nbd.CMD_FLUSH -> volume.flush();
                case Nbd.CMD_TRIM -> {
                    knownData = null; // not needed for correctness (see KnownData), but keeps read replies sparse
                    if (r.length > 0) volume.trim(r.offset, r.length, fua);
                }
                case Nbd.CMD_WRITE_ZEROES -> {
                    boolean mayPunch = (r.flags & Nbd.CMD_FLAG_NO_HOLE) == 0;
                    if ((r.flags & Nbd.CMD_FLAG_FAST_ZERO) != 0 && !volume.fastZero(mayPunch)) {
                        error = Nbd.ENOTSUP; // "not cheaper than writing": fail fast, change nothing
                    } else if (r.length > 0) {
                        knownData = null;
                        volume.writeZeroes(r.offset, r.length, mayPunch, fua);
                    }
                }
                case Nbd.CMD_CACHE -> { if (r.length > 0) volume.prefetch(r.offset, r.length); }
                default -> throw new IllegalStateException("not a simple command: " + r.describe());
            }
        } catch (Exception e) {
            error = NbdErrors.toWire(e, conn + ": " + r.describe());
        }
        replyStatus(r, error, error == 0 ? null : Nbd.cmdName(r.type) + " failed: " + Nbd.errName(error));
    }

    /**
     * READ. Structured replies map the range with {@link Volume#extents} (unless DF or short); simple
     * replies and short reads are one data piece. Then either
     * <ul>
     *   <li>the data pieces are read into one buffer, and the header (simple) or every chunk —
     *       OFFSET_DATA for data, OFFSET_HOLE for zero runs, DONE on the last — goes out as one message;
     *       a failure is one error reply and nothing else; or</li>
     *   <li>for a read of {@link #ZERO_COPY_MIN} or more on a socket whose data is all in memory
     *       ({@link Volume#transfer} is not null for each piece), the same message goes out with each
     *       piece's data sent by the writer straight from the page cache (sendfile), never copied into a
     *       buffer. Cold data takes the first way, so disk reads keep running on request threads and
     *       their failures are still answered; a transfer failing after the header was sent (the data was
     *       evicted meanwhile and reading it back failed) can only be answered by closing the connection.</li>
     * </ul>
     */
    private void read(Request r) {
        int length = (int) r.length;
        if (length == 0) {
            if (structured) sendNoneChunk(r); else replyStatus(r, 0, null);
            return;
        }
        Pieces pieces;
        Volume.Transfer[] zeroCopy;
        try {
            boolean oneChunk = !structured || (r.flags & Nbd.CMD_FLAG_DF) != 0 || length < MIN_MAPPED_READ;
            pieces = oneChunk ? Pieces.allData(length) : mapRead(r.offset, length);
            zeroCopy = length >= ZERO_COPY_MIN && out.socket() ? transfers(r, pieces) : null;
            if (zeroCopy == null) {
                r.data = pool.acquire(length);
                for (int i = 0; i < pieces.count; i++) {
                    if (!pieces.zero[i]) volume.read(r.offset + pieces.start[i], r.data.slice(pieces.start[i], pieces.length[i]));
                }
            }
        } catch (Exception e) {
            int error = NbdErrors.toWire(e, conn + ": " + r.describe());
            replyStatus(r, error, Nbd.cmdName(r.type) + " failed: " + Nbd.errName(error));
            return;
        }
        if (structured) {
            sendReadChunks(r, pieces, zeroCopy);
            return;
        }
        r.header = pool.acquire(16);
        r.header.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(r.cookie).flip();
        if (zeroCopy == null) {
            out.submit(new ByteBuffer[] {r.header, r.data}, r);
        } else {
            out.submit(new ByteBuffer[] {r.header}, new WireOutput.Transfer[] {sent(r, zeroCopy[0])}, r);
        }
    }

    /** A zero-copy transfer for each data piece (null for holes), or null if any piece has none. */
    private Volume.Transfer[] transfers(Request r, Pieces p) throws IOException {
        Volume.Transfer[] t = new Volume.Transfer[p.count];
        for (int i = 0; i < p.count; i++) {
            if (p.zero[i]) continue;
            t[i] = volume.transfer(r.offset + p.start[i], p.length[i]);
            if (t[i] == null) return null;
        }
        return t;
    }

    /** A volume transfer as a part of a reply; a failure (after the header went out) is logged here. */
    private WireOutput.Transfer sent(Request r, Volume.Transfer t) {
        return channel -> {
            try {
                t.writeTo(channel);
            } catch (IOException | RuntimeException e) {
                log.info("{}: {} failed after its reply header was sent, closing the connection: {}", conn, r.describe(), e.toString());
                throw e;
            }
        };
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

    /**
     * A range the allocation map recently called data. Reads inside it skip {@link Volume#extents}.
     * Only data is remembered, never holes: if a hole appears there later (a trim), sending its zeros as
     * data is still correct, whereas a stale hole would hide written data.
     */
    private record KnownData(long start, long end) {}

    private volatile KnownData knownData;

    private Pieces mapRead(long offset, int length) throws IOException {
        KnownData known = knownData;
        if (known != null && offset >= known.start && offset + length <= known.end) return Pieces.allData(length);
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
                if (!e.hole() && !e.zero() && e.end() > offset + length) knownData = new KnownData(e.offset(), e.end());
                pos = end;
                if (pos >= length) break mapping;
            }
        }
        if (pos < length) p.add(pos, length - pos, false);
        return p.count > MAX_READ_CHUNKS ? Pieces.allData(length) : p;
    }

    /** The chunks of a structured READ: data from {@code r.data}, or sent by {@code zeroCopy[i]} when that is given. */
    private void sendReadChunks(Request r, Pieces p, Volume.Transfer[] zeroCopy) {
        r.header = pool.acquire(p.count * 32);
        ByteBuffer headers = r.header;
        int parts = 0;
        for (int i = 0; i < p.count; i++) parts += p.zero[i] || zeroCopy != null ? 1 : 2;
        ByteBuffer[] wire = new ByteBuffer[parts];
        WireOutput.Transfer[] transfers = zeroCopy == null ? null : new WireOutput.Transfer[parts];
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
                if (zeroCopy != null) transfers[w] = sent(r, zeroCopy[i]);
                wire[w++] = headers.slice(at, 28);
                if (zeroCopy == null) wire[w++] = r.data.slice(p.start[i], p.length[i]);
            }
        }
        out.submit(wire, transfers, r);
    }

    /**
     * BLOCK_STATUS for base:allocation: extents from {@link Volume#extents}, flags HOLE|ZERO for holes,
     * ZERO for known-zero data, 0 for data; adjacent equal extents merged; clipped to the request (so
     * each length fits the u32 field); one extent with REQ_ONE; at most {@link Nbd#MAX_EXTENTS}.
     */
    private void blockStatus(Request r) {
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
            replyStatus(r, error, Nbd.cmdName(r.type) + " failed: " + Nbd.errName(error));
            return;
        }
        if (n == 0) { // the volume told us nothing: "allocated, content unknown" is always a safe answer
            lengths[0] = r.length;
            states[0] = 0;
            n = 1;
        }
        int payload = 4 + 8 * n;
        r.header = pool.acquire(20 + payload);
        r.header.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) Nbd.REPLY_TYPE_BLOCK_STATUS)
                .putLong(r.cookie).putInt(payload).putInt(Nbd.CONTEXT_ID_BASE_ALLOCATION);
        for (int i = 0; i < n; i++) r.header.putInt((int) lengths[i]).putInt(states[i]);
        out.submit(new ByteBuffer[] {r.header.flip()}, r);
    }

    // ---- replies ----------------------------------------------------------------------------------------

    /**
     * Success is always a 16-byte simple reply (allowed for everything but READ and BLOCK_STATUS, which
     * never get here with success). An error is a structured ERROR chunk carrying {@code message} when
     * structured replies are on (a READ must get one), else a simple reply.
     */
    private void replyStatus(Request r, int error, String message) {
        r.error = error;
        pool.release(r.data); // a failed READ sends no data
        r.data = null;
        ByteBuffer b = r.header = pool.acquire(SCRATCH);
        if (error == 0 || !structured) {
            b.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(r.cookie);
        } else {
            byte[] text = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
            int len = Math.min(text.length, MAX_MESSAGE);
            b.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) Nbd.REPLY_TYPE_ERROR)
                    .putLong(r.cookie).putInt(6 + len).putInt(error).putShort((short) len).put(text, 0, len);
        }
        out.submit(new ByteBuffer[] {b.flip()}, r);
    }

    private void sendNoneChunk(Request r) {
        r.header = pool.acquire(20);
        r.header.putInt(Nbd.STRUCTURED_REPLY_MAGIC).putShort((short) Nbd.REPLY_FLAG_DONE).putShort((short) Nbd.REPLY_TYPE_NONE)
                .putLong(r.cookie).putInt(0).flip();
        out.submit(new ByteBuffer[] {r.header}, r);
    }

    private static int kib(long bytes) {
        return (int) Math.min(Integer.MAX_VALUE, (bytes + 1023) >>> 10);
    }
}
