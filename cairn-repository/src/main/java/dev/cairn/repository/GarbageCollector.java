package dev.cairn.repository;

import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes chunks and pages no manifest needs: restic's plan/execute with PBS's mark, grace and
 * sweep ({@code docs/repository-format.md} §8–9).
 *
 * <p>{@link #plan} marks every chunk and page reachable from every manifest root, from the pinned
 * manifests (layered disks, in-flight restores) and from every registered writer, and lists the rest
 * as candidates. {@link #execute} deletes a candidate only if it is older than the cutoff — min(plan
 * start − grace, oldest writer's start) — and was not published by a writer since the plan began.
 *
 * <p><b>What stays true.</b> Nothing reachable is deleted (M4). Any error while marking — an
 * unreadable root or page, a missing pinned manifest — aborts the plan: GC never guesses what a
 * damaged manifest references. Both phases check {@link Cancellation} between objects.
 *
 * <p><b>Threads.</b> One GC per repository at a time (the registry refuses a second epoch); writers,
 * readers and verify may run concurrently.
 */
public final class GarbageCollector {

    private static final Logger log = LoggerFactory.getLogger(GarbageCollector.class);

    private final Repository repo;
    private final Duration grace;

    GarbageCollector(Repository repo, Duration grace) {
        if (grace.isNegative()) throw new IllegalArgumentException("negative grace period " + grace);
        this.repo = repo;
        this.grace = grace;
    }

    /** {@link #plan(Set, Cancellation)} without a cancellation token. */
    public GcPlan plan(Set<ManifestId> pinned) throws IOException {
        return plan(pinned, Cancellation.none());
    }

    /**
     * The mark phase. Opens the registry's GC epoch first, so everything published from this instant is
     * spared by {@link #execute}.
     *
     * @param pinned manifests to treat as live even if their roots were deleted meanwhile (they must exist)
     */
    public GcPlan plan(Set<ManifestId> pinned, Cancellation cancel) throws IOException {
        Instant started = repo.clock().instant();
        WriterRegistry.GcSession session = repo.writers().beginGc();
        try {
            ChunkIdTable chunks = new ChunkIdTable(1 << 16);
            ChunkIdTable pages = new ChunkIdTable();
            List<ChunkId> heldPages = new ArrayList<>();
            // 1. What in-flight writers hold. Before listing roots: a writer that closes after this
            //    has committed its root, which the listing below then sees.
            Optional<Instant> oldestWriter = session.markHeld(chunks::add, heldPages::add);
            // 2. Every root, and the pinned manifests.
            Set<ManifestId> roots = new LinkedHashSet<>(repo.listManifests());
            for (ManifestId p : pinned) {
                if (!roots.contains(p) && !repo.backend().exists(ChunkCodec.Type.ROOT.keyOf(p.content()))) {
                    throw new IOException("pinned manifest " + p + " does not exist; refusing to collect garbage until the pin list is fixed");
                }
                roots.add(p);
            }
            for (ManifestId id : roots) {
                cancel.check();
                ManifestRoot root;
                try {
                    root = repo.readRoot(id).root();
                } catch (NoSuchObjectException e) {
                    if (pinned.contains(id)) throw e;
                    continue; // deleted since the listing: its references may go
                }
                for (ChunkId page : root.pageIds()) mark(page, pages, chunks, cancel, false);
            }
            // A writer publishes a new page before storing it, so a held page may not exist yet; its
            // chunks are then held by the writer themselves (or by a parent page held here too).
            for (ChunkId page : heldPages) mark(page, pages, chunks, cancel, true);
            // 3. Everything else is a candidate.
            List<ObjectInfo> candidates = new ArrayList<>();
            repo.backend().list(ObjectKind.PAGE, info -> {
                if (!pages.contains(ChunkId.parse(info.key().name()))) candidates.add(info);
            });
            cancel.check();
            repo.chunks().list(info -> {
                if (!chunks.contains(ChunkId.parse(info.key().name()))) candidates.add(info);
            });
            Instant cutoff = started.minus(grace);
            if (oldestWriter.isPresent() && oldestWriter.get().isBefore(cutoff)) cutoff = oldestWriter.get();
            GcPlan plan = new GcPlan(session, started, cutoff, roots.size(), chunks.size(), pages.size(), candidates);
            log.info("gc plan: {}", plan);
            return plan;
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    private void mark(ChunkId page, ChunkIdTable pages, ChunkIdTable chunks, Cancellation cancel, boolean mayBeUnwritten) throws IOException {
        if (page.isZero() || !pages.add(page)) return; // a page shared by many manifests is read once
        cancel.check();
        long[] words;
        try {
            words = repo.readPage(page);
        } catch (NoSuchObjectException e) {
            if (mayBeUnwritten) return;
            throw e;
        }
        for (int i = 0; i < words.length; i += 4) {
            if ((words[i] | words[i + 1] | words[i + 2] | words[i + 3]) != 0) chunks.add(new ChunkId(words[i], words[i + 1], words[i + 2], words[i + 3]));
        }
    }

    /** {@link #execute(GcPlan, Cancellation)} without a cancellation token. */
    public GcResult execute(GcPlan plan) throws IOException {
        return execute(plan, Cancellation.none());
    }

    /**
     * The sweep: deletes each candidate older than the cutoff and not published since the plan, pages
     * first. Closes the plan (ends the GC epoch) in every case. On cancellation the partial counts are
     * logged and {@link CancellationException} is thrown.
     */
    public GcResult execute(GcPlan plan, Cancellation cancel) throws IOException {
        WriterRegistry.GcSession session = plan.session();
        long deletedChunks = 0, deletedChunkBytes = 0, deletedPages = 0, deletedPageBytes = 0, keptYoung = 0, keptYoungBytes = 0, keptPublished = 0;
        List<ObjectInfo> ordered = new ArrayList<>(plan.candidates());
        ordered.sort((a, b) -> Integer.compare(order(a.key().kind()), order(b.key().kind())));
        try {
            for (ObjectInfo candidate : ordered) {
                cancel.check();
                if (!candidate.lastModified().isBefore(plan.cutoff())) {
                    keptYoung++;
                    keptYoungBytes += candidate.size();
                    continue;
                }
                boolean page = candidate.key().kind() == ObjectKind.PAGE;
                ChunkId id = ChunkId.parse(candidate.key().name());
                boolean deleted = session.deleteUnlessPublished(id, page, () -> {
                    if (page) repo.backend().delete(candidate.key());
                    else repo.chunks().delete(id);
                });
                if (!deleted) {
                    keptPublished++;
                } else if (page) {
                    deletedPages++;
                    deletedPageBytes += candidate.size();
                } else {
                    deletedChunks++;
                    deletedChunkBytes += candidate.size();
                }
            }
            // format 2: packs left without chunks go, mostly-dead ones are rewritten, the index follows
            repo.chunks().finishSweep(plan.cutoff(), cancel);
        } catch (CancellationException e) {
            log.warn("gc cancelled after deleting {} chunks ({} bytes) and {} pages", deletedChunks, deletedChunkBytes, deletedPages);
            throw e;
        } finally {
            plan.close();
        }
        GcResult result = new GcResult(plan.started(), Duration.between(plan.started(), repo.clock().instant()), plan.cutoff(), plan.manifests(),
                plan.markedChunks(), plan.markedPages(), deletedChunks, deletedChunkBytes, deletedPages, deletedPageBytes,
                keptYoung, keptYoungBytes, keptPublished);
        log.info("gc done: {}", result);
        return result;
    }

    private static int order(ObjectKind kind) {
        return kind == ObjectKind.PAGE ? 0 : 1;
    }
}
