package dev.cairn.repository;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * What a manifest root says about its snapshot: geometry, lineage, space figures and the opaque
 * metadata the catalog is rebuilt from. Immutable.
 *
 * @param logicalBytes sum of the lengths of the non-zero blocks (what the disk holds)
 * @param newChunks chunks this manifest's writer stored that were not in the repository before
 * @param newChunkBytes their stored size: the snapshot's incremental size
 * @param newPageBytes stored size of the pages written for this manifest
 * @param rootBytes stored size of the root object itself
 * @param metadata opaque key/values given at {@link Repository#newManifest} (snapshot id, disk id, account, …)
 */
public record ManifestInfo(ManifestId id, int blockSize, long diskSize, long blockCount, int pageEntries, int pageCount,
                           Instant created, Optional<ManifestId> parent, long logicalBytes, long nonZeroBlocks,
                           long newChunks, long newChunkBytes, long newPageBytes, long rootBytes, Map<String, String> metadata) {

    public ManifestInfo {
        metadata = Map.copyOf(metadata);
    }

    /** Bytes this snapshot added when it was taken: new chunks, new pages and its root. */
    public long incrementalBytes() {
        return newChunkBytes + newPageBytes + rootBytes;
    }
}
