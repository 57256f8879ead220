package dev.cairn.repository;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.ObjectInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.function.Consumer;

/**
 * Where a repository keeps its chunks' stored objects (§4 envelopes): one backend object each
 * (format 1, {@link ObjectChunkStore}) or many to a pack (format 2, {@link PackChunkStore}). The rest
 * of the repository — manifests, GC, verify, accounting — sees chunks only through this.
 *
 * <p>Listings report each chunk under its format-1 key ({@code chunks/<4 hex>/<id>}), its stored size,
 * and the time it was stored (for packs: the pack's), whichever way it is kept.
 */
interface ChunkStore {

    /** A writer's new chunks, riding on its backend batch. */
    Writes writes(Backend.Batch batch);

    /** True if the chunk is stored and findable. */
    boolean contains(ChunkId id) throws IOException;

    /**
     * The chunk's stored object, unverified.
     *
     * @throws dev.cairn.repository.backend.NoSuchObjectException if it is not stored
     */
    ByteBuffer get(ChunkId id) throws IOException;

    /**
     * The stored objects of several chunks, unverified, in the order asked ({@code ids} may repeat). A
     * store that packs chunks reads neighbours with one request; by default each is a {@link #get}.
     */
    default ByteBuffer[] getAll(ChunkId[] ids) throws IOException {
        ByteBuffer[] out = new ByteBuffer[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = get(ids[i]);
        return out;
    }

    /** A hint that these chunks will be read soon ({@link Backend#willRead}); never fails. By default, nothing. */
    default void willRead(ChunkId[] ids) {}

    /** Every stored chunk, in no particular order. */
    void list(Consumer<ObjectInfo> each) throws IOException;

    /** Deletes a chunk (GC's sweep, under the writer registry's stripe lock for the id; or a damaged chunk). */
    void delete(ChunkId id) throws IOException;

    /**
     * After GC's sweep: whatever the deletes still owe. Format 1 owes nothing; format 2 deletes packs
     * no chunk is left in, rewrites packs that are mostly garbage, and rewrites the index.
     *
     * @param cutoff objects stored at or after it are left alone (they may belong to a writer in flight)
     */
    default void finishSweep(Instant cutoff, Cancellation cancel) throws IOException {}

    /** Problems with the store's own objects (format 2: damaged index objects and pack trailers), for verify. */
    default void verifyStructure(Consumer<Problem> problems, Cancellation cancel) throws IOException {}

    /**
     * A writer's puts. Thread-safe. The owner calls {@link #flush} before each commit of the batch and
     * {@link #committed} after it returns; only then are the chunks findable by {@link #contains}.
     */
    interface Writes {
        /** True if this writer has put the chunk and not yet seen it committed. */
        boolean holds(ChunkId id);

        /**
         * Stores the chunk's object ({@code encoded}, from position to limit; copied before return)
         * unless this writer holds it or the store has it.
         *
         * @return true if this call stored it
         */
        boolean put(ChunkId id, ByteBuffer encoded) throws IOException;

        /** Hands every accepted put to the batch: called before each {@code batch.commit()}. */
        default void flush() throws IOException {}

        /** The batch committed: what {@link #flush} handed over is durable; make it findable. */
        default void committed() {}
    }
}
