package dev.cairn.repository;

/**
 * What storing one block did (PBS's {@code insert_chunk}): its id, whether this call stored a new chunk,
 * and how many bytes it added to the repository (0 for a dedup hit or a zero block). Summing
 * {@code storedBytes} over a capture gives its incremental size.
 */
public record PutResult(ChunkId id, boolean newlyStored, long storedBytes) {
    public PutResult {
        if (id == null) throw new IllegalArgumentException("id is required");
        if (storedBytes < 0 || (!newlyStored && storedBytes != 0)) throw new IllegalArgumentException("bad stored bytes " + storedBytes);
    }
}
