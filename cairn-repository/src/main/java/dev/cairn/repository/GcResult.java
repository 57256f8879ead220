package dev.cairn.repository;

import java.time.Duration;
import java.time.Instant;

/**
 * What one garbage collection did; logged by {@link GarbageCollector#execute} and returned to the caller.
 *
 * @param manifests roots marked from (listed + pinned)
 * @param markedChunks chunks referenced by a root, pinned manifest or writer
 * @param markedPages pages referenced likewise
 * @param deletedChunks unreferenced chunks deleted, and their stored bytes
 * @param keptYoung unreferenced objects kept because they are newer than the cutoff (grace / oldest writer)
 * @param keptPublished unreferenced objects kept because a writer published them during the GC
 */
public record GcResult(Instant started, Duration duration, Instant cutoff, int manifests, long markedChunks, long markedPages,
                       long deletedChunks, long deletedChunkBytes, long deletedPages, long deletedPageBytes,
                       long keptYoung, long keptYoungBytes, long keptPublished) {

    /** Bytes freed. */
    public long deletedBytes() {
        return deletedChunkBytes + deletedPageBytes;
    }
}
