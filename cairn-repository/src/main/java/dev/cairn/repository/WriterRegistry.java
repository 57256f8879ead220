package dev.cairn.repository;

import java.io.IOException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The in-flight writers of one process, and what they will reference: the bridge that makes GC safe
 * against concurrent captures without locking chunk writes ({@code docs/repository-format.md} §8).
 *
 * <p><b>Protocol.</b> A writer {@link Writer#publishChunk publishes} every chunk id (and
 * {@link Writer#publishPage page} id) it will reference <em>before</em> it checks whether the object
 * exists or stores it. GC, in {@code plan}, first {@linkplain #beginGc starts a GC epoch} — from then on
 * every publish is also recorded in the epoch — then marks everything the registered writers hold.
 * In {@code execute} it deletes a candidate only under the id's lock stripe and only if the epoch has
 * not recorded it. A publish takes the same stripe, so either the delete came first (and the
 * writer's later existence check finds the object gone and stores it again) or the publish came first
 * (and GC keeps the object).
 *
 * <p><b>What stays true.</b> While a GC epoch is open, every id published after it opened is in the
 * epoch; every id published before is held by a writer that is still registered, or by one that
 * closed — after committing its root, which GC lists after marking the writers, or after aborting,
 * in which case nothing needs the id.
 *
 * <p><b>Scope.</b> One registry per {@link Repository} instance, so one process. Writers in other
 * processes or nodes are invisible here; for them GC relies on the grace period.
 *
 * <p><b>Threads.</b> Thread-safe. Lock order: stripe, then writer. One GC epoch at a time.
 */
public final class WriterRegistry {

    private static final int STRIPES = 64;

    private final InstantSource clock;
    private final Object[] stripes = new Object[STRIPES];
    private final Set<Writer> active = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean gcRunning = new AtomicBoolean();
    private volatile GcEpoch epoch;

    WriterRegistry(InstantSource clock) {
        this.clock = clock;
        for (int i = 0; i < STRIPES; i++) stripes[i] = new Object();
    }

    /** Registers a writer that starts now; close it when its manifest is durable or it gave up. */
    public Writer begin(String name) {
        Writer w = new Writer(name, clock.instant());
        active.add(w);
        return w;
    }

    /** Number of registered writers. */
    public int activeWriters() {
        return active.size();
    }

    private Object stripe(ChunkId id) {
        return stripes[(int) (id.w2() & (STRIPES - 1))];
    }

    /**
     * One in-flight writer: its start time and every id it published. Ids are kept in a flat
     * {@code long[]} (32 bytes each, duplicates allowed) — a full capture of a large disk publishes
     * millions. Thread-safe: a capture may publish from several threads.
     */
    public final class Writer implements AutoCloseable {
        private final String name;
        private final Instant started;
        private long[] chunks = new long[64];
        private int chunkWords;
        private long[] pages = new long[16];
        private int pageWords;
        private boolean closed;

        private Writer(String name, Instant started) {
            this.name = name;
            this.started = started;
        }

        public String name() {
            return name;
        }

        public Instant started() {
            return started;
        }

        /** Declares that this writer will reference chunk {@code id}. Call before checking or storing it. */
        public void publishChunk(ChunkId id) {
            publish(id, false);
        }

        /** Declares that this writer will reference page {@code id}. Call before checking or storing it. */
        public void publishPage(ChunkId id) {
            publish(id, true);
        }

        private void publish(ChunkId id, boolean page) {
            if (id.isZero()) return;
            synchronized (stripe(id)) {
                synchronized (this) {
                    if (closed) throw new IllegalStateException("writer " + name + " is closed");
                    GcEpoch e = epoch;
                    if (e != null) (page ? e.pages : e.chunks).add(id);
                    if (page) {
                        pages = append(pages, pageWords, id);
                        pageWords += 4;
                    } else {
                        chunks = append(chunks, chunkWords, id);
                        chunkWords += 4;
                    }
                }
            }
        }

        private static long[] append(long[] words, int used, ChunkId id) {
            if (used + 4 > words.length) words = java.util.Arrays.copyOf(words, words.length * 2);
            words[used] = id.w0();
            words[used + 1] = id.w1();
            words[used + 2] = id.w2();
            words[used + 3] = id.w3();
            return words;
        }

        private synchronized void forEachHeld(IdVisitor chunkVisitor, IdVisitor pageVisitor) throws IOException {
            for (int i = 0; i < chunkWords; i += 4) chunkVisitor.accept(new ChunkId(chunks[i], chunks[i + 1], chunks[i + 2], chunks[i + 3]));
            for (int i = 0; i < pageWords; i += 4) pageVisitor.accept(new ChunkId(pages[i], pages[i + 1], pages[i + 2], pages[i + 3]));
        }

        /** Deregisters; idempotent. The ids stop being protected (unless a GC epoch recorded them). */
        @Override
        public void close() {
            synchronized (this) {
                closed = true;
                chunks = new long[0];
                pages = new long[0];
                chunkWords = 0;
                pageWords = 0;
            }
            active.remove(this);
        }

        @Override
        public String toString() {
            return "writer " + name + " since " + started;
        }
    }

    interface IdVisitor {
        void accept(ChunkId id) throws IOException;
    }

    /** The ids published while a GC runs. */
    private static final class GcEpoch {
        final Set<ChunkId> chunks = ConcurrentHashMap.newKeySet();
        final Set<ChunkId> pages = ConcurrentHashMap.newKeySet();
    }

    /** Deletes an object unless it was published during the GC; runs {@code delete} under the id's stripe. */
    interface Deletion {
        void run() throws IOException;
    }

    /**
     * A running GC's view of the registry. Opened by {@code plan}, closed after {@code execute} (or when
     * the plan is abandoned). Not thread-safe; one per GC.
     */
    final class GcSession implements AutoCloseable {
        private final GcEpoch gcEpoch;
        private boolean closed;

        private GcSession(GcEpoch gcEpoch) {
            this.gcEpoch = gcEpoch;
        }

        /**
         * Visits every id every registered writer holds now.
         *
         * @return the oldest registered writer's start, if any
         */
        Optional<Instant> markHeld(IdVisitor chunkVisitor, IdVisitor pageVisitor) throws IOException {
            Instant oldest = null;
            for (Writer w : active.toArray(new Writer[0])) {
                w.forEachHeld(chunkVisitor, pageVisitor);
                if (oldest == null || w.started.isBefore(oldest)) oldest = w.started;
            }
            return Optional.ofNullable(oldest);
        }

        /** Oldest start among the writers registered now. */
        Optional<Instant> oldestWriterStart() {
            return active.stream().map(Writer::started).min(Instant::compareTo);
        }

        /**
         * Runs {@code deletion} unless {@code id} was published since the GC began; the check and the
         * deletion happen under the id's stripe, so no publish can slip between them.
         *
         * @return true if deleted, false if kept because a writer published it
         */
        boolean deleteUnlessPublished(ChunkId id, boolean page, Deletion deletion) throws IOException {
            synchronized (stripe(id)) {
                if ((page ? gcEpoch.pages : gcEpoch.chunks).contains(id)) return false;
                deletion.run();
                return true;
            }
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            epoch = null;
            gcRunning.set(false);
        }
    }

    /**
     * Opens a GC epoch.
     *
     * @throws IllegalStateException if a GC is already running in this process
     */
    GcSession beginGc() {
        if (!gcRunning.compareAndSet(false, true)) throw new IllegalStateException("a garbage collection is already running on this repository");
        GcEpoch e = new GcEpoch();
        epoch = e;
        return new GcSession(e);
    }
}
