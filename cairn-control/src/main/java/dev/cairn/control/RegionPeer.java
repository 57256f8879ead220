package dev.cairn.control;

import java.io.IOException;
import java.util.List;

/**
 * Another region's Cairn, as this one reaches it to copy snapshots there ({@link SnapshotCopies}). The
 * API module implements it over the peer's Tencent-style endpoint, signed with the peer's admin key; the
 * peer answers with its {@link CopyReceiver}. Calls may block on the network; each may fail with
 * {@link PeerError} (the peer refused, with its error code) or another {@link IOException} (unreachable).
 */
public interface RegionPeer {

    /** The region the peer serves, e.g. {@code ap-beijing}. */
    String region();

    /**
     * Creates the copy's row at the peer (or finds it, when {@code resume}) and opens a session for its
     * blocks. Returns the copy's state there ({@code NORMAL} once an earlier attempt completed it) and
     * the form its blocks' data take.
     */
    Begun begin(CopyStart start) throws IOException;

    /**
     * {@code storedChunks}: the session takes each chunk's data in its stored (compressed) form and the
     * source's chunk ids as its own — both repositories are unencrypted, so ids are SHA-256 of the
     * plaintext in both; else data is plaintext and ids are only the source's names for it.
     */
    record Begun(String state, boolean storedChunks) {}

    /**
     * Sends blocks of the copy: with data, or by source chunk id only (the peer may already hold that
     * chunk). Returns the indexes of id-only blocks the peer does not hold; they must be sent with data.
     */
    List<Long> putBlocks(String copySnapshotId, List<CopyBlock> blocks, long blocksDone, long blocksTotal) throws IOException;

    /** Ends the copy: the peer commits its manifest, verifies every chunk, and makes it NORMAL. */
    void complete(String copySnapshotId) throws IOException;

    /**
     * What the destination needs to create the copy's row and manifest. {@code sourceRepository}: the
     * source repository's id, the namespace of {@code CopyBlock.sourceChunk}; {@code zone}: the source
     * zone (the peer picks its own zone of the same number); {@code storedChunks}: the source can send
     * chunks in their stored form (its repository is unencrypted).
     */
    record CopyStart(String copySnapshotId, long accountId, String name, String sourceRegion, String sourceSnapshotId,
                     String sourceRepository, String diskId, long diskSizeGib, String diskUsage, String zone, long diskBytes,
                     int blockSize, boolean storedChunks, boolean resume) {}

    /** One block of a copy; {@code data} (plaintext, or the stored chunk — see {@link Begun}) null to send the id only. */
    record CopyBlock(long index, String sourceChunk, byte[] data) {}

    /** The peer answered with an error. */
    final class PeerError extends IOException {
        private final String code;

        public PeerError(String code, String message) {
            super(code + ": " + message);
            this.code = code;
        }

        public String code() { return code; }
    }
}
