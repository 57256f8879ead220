package dev.cairn.repository;

import dev.cairn.repository.backend.ObjectInfo;
import java.time.Instant;
import java.util.List;

/**
 * The result of GC's mark phase: the unreferenced objects ("candidates") and the cutoff time before
 * which they may be deleted. Holds the registry's GC epoch open, so that ids published from now on
 * are spared: pass it to {@link GarbageCollector#execute} or {@link #close()} it.
 *
 * <p>Not thread-safe; used by one GC.
 */
public final class GcPlan implements AutoCloseable {

    private final WriterRegistry.GcSession session;
    private final Instant started;
    private final Instant cutoff;
    private final int manifests;
    private final long markedChunks;
    private final long markedPages;
    private final List<ObjectInfo> candidates;
    private boolean closed;

    GcPlan(WriterRegistry.GcSession session, Instant started, Instant cutoff, int manifests, long markedChunks, long markedPages,
           List<ObjectInfo> candidates) {
        this.session = session;
        this.started = started;
        this.cutoff = cutoff;
        this.manifests = manifests;
        this.markedChunks = markedChunks;
        this.markedPages = markedPages;
        this.candidates = List.copyOf(candidates);
    }

    /** When planning began (the repository clock). */
    public Instant started() {
        return started;
    }

    /** Candidates last modified at or after this instant are kept: min(plan start − grace, oldest writer's start). */
    public Instant cutoff() {
        return cutoff;
    }

    public int manifests() {
        return manifests;
    }

    public long markedChunks() {
        return markedChunks;
    }

    public long markedPages() {
        return markedPages;
    }

    /** Unreferenced chunks and pages (before the age and publish checks of execute). */
    public List<ObjectInfo> candidates() {
        return candidates;
    }

    WriterRegistry.GcSession session() {
        if (closed) throw new IllegalStateException("this GC plan was already executed or closed; plan again");
        return session;
    }

    /** Ends the GC epoch without deleting anything. Idempotent. */
    @Override
    public void close() {
        closed = true;
        session.close();
    }

    @Override
    public String toString() {
        return "GcPlan[started=" + started + ", cutoff=" + cutoff + ", manifests=" + manifests + ", markedChunks=" + markedChunks
                + ", markedPages=" + markedPages + ", candidates=" + candidates.size() + "]";
    }
}
