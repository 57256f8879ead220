package dev.cairn.repository;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Random and sequential access to one committed manifest. Obtained from {@link Repository#openManifest},
 * which has read and verified the root; pages are read (and verified) on first use and kept in the
 * repository's page cache, shared with other readers and writers.
 *
 * <p><b>Threads.</b> Thread-safe: a base cache may fill blocks from several threads at once.
 */
public final class ManifestReader {

    /** Receives manifest entries in index order. */
    @FunctionalInterface
    public interface EntryVisitor {
        void accept(long index, ChunkId id) throws IOException;
    }

    private final Repository repo;
    private final ManifestId id;
    private final ManifestRoot root;
    private final ManifestInfo info;

    ManifestReader(Repository repo, ManifestId id, ManifestRoot root, long rootBytes) {
        this.repo = repo;
        this.id = id;
        this.root = root;
        this.info = new ManifestInfo(id, root.blockSize, root.diskSize, root.entryCount, root.pageEntries, root.pageCount(),
                root.created, root.parentId(), root.logicalBytes, root.nonZeroEntries, root.newChunks, root.newChunkBytes,
                root.newPageBytes, rootBytes, root.metadata);
    }

    public ManifestId id() {
        return id;
    }

    public ManifestInfo info() {
        return info;
    }

    /** Number of entries (blocks). */
    public long blockCount() {
        return root.entryCount;
    }

    public int blockSize() {
        return root.blockSize;
    }

    /** Length of block {@code index}: the block size, or less for the last block of an odd-sized disk. */
    public int blockLength(long index) {
        checkIndex(index);
        return (int) Math.min(root.blockSize, root.diskSize - index * root.blockSize);
    }

    /** The chunk id of block {@code index}; {@link ChunkId#ZERO} for a zero block. */
    public ChunkId entry(long index) throws IOException {
        checkIndex(index);
        int k = (int) (index / root.pageEntries);
        if (root.pageId(k).isZero()) return ChunkId.ZERO;
        long[] words = page(k);
        int slot = (int) (index % root.pageEntries) * 4;
        return new ChunkId(words[slot], words[slot + 1], words[slot + 2], words[slot + 3]);
    }

    /** Visits every entry (zero blocks included, as {@link ChunkId#ZERO}) in index order. */
    public void forEach(EntryVisitor visitor) throws IOException {
        for (int k = 0; k < root.pageCount(); k++) {
            long first = (long) k * root.pageEntries;
            int n = (int) Math.min(root.pageEntries, root.entryCount - first);
            if (root.pageId(k).isZero()) {
                for (int i = 0; i < n; i++) visitor.accept(first + i, ChunkId.ZERO);
                continue;
            }
            long[] words = page(k);
            for (int i = 0; i < n; i++) {
                int s = i * 4;
                visitor.accept(first + i, new ChunkId(words[s], words[s + 1], words[s + 2], words[s + 3]));
            }
        }
    }

    /**
     * Reads block {@code index} into {@code dst} (which advances by {@link #blockLength}): zeros for a
     * zero block, else the verified chunk.
     */
    public int readBlock(long index, ByteBuffer dst) throws IOException {
        int length = blockLength(index);
        if (dst.remaining() < length) throw new IllegalArgumentException("block " + index + " needs " + length + " bytes, destination has " + dst.remaining());
        ChunkId chunk = entry(index);
        ByteBuffer window = dst.slice(dst.position(), length);
        checkDecoded(index, chunk, repo.readBlock(chunk, window), length);
        dst.position(dst.position() + length);
        return length;
    }

    /**
     * Reads several blocks at once, block {@code blocks[i]} into {@code dsts[i]} (which advances by its
     * {@link #blockLength}): {@link #readBlock} for each, with the stored chunks fetched together.
     *
     * @return the bytes that came from stored chunks (zero blocks are not stored)
     */
    public long readBlocks(long[] blocks, ByteBuffer[] dsts) throws IOException {
        ChunkId[] ids = new ChunkId[blocks.length];
        ByteBuffer[] windows = new ByteBuffer[blocks.length];
        for (int i = 0; i < blocks.length; i++) {
            int length = blockLength(blocks[i]);
            if (dsts[i].remaining() < length) throw new IllegalArgumentException("block " + blocks[i] + " needs " + length + " bytes, destination has " + dsts[i].remaining());
            ids[i] = entry(blocks[i]);
            windows[i] = dsts[i].slice(dsts[i].position(), length);
        }
        int[] got = repo.readBlocks(ids, windows);
        long stored = 0;
        for (int i = 0; i < blocks.length; i++) {
            int length = blockLength(blocks[i]);
            checkDecoded(blocks[i], ids[i], got[i], length);
            dsts[i].position(dsts[i].position() + length);
            if (!ids[i].isZero()) stored += length;
        }
        return stored;
    }

    /** A chunk must hold exactly its block's bytes: one that does not is named by a damaged manifest. */
    private void checkDecoded(long index, ChunkId chunk, int got, int length) throws CorruptObjectException {
        if (got != length) throw new CorruptObjectException(ChunkCodec.Type.CHUNK.keyOf(chunk), "chunk holds " + got + " bytes, block " + index + " of manifest " + id.shortForm() + " is " + length);
    }

    /** The page ids, in order (ZERO for all-zero pages). */
    ChunkId[] pageIds() {
        return root.pageIds();
    }

    private long[] page(int k) throws IOException {
        return repo.cachedPage(root.pageId(k), root.pageEntries); // shared: only read
    }

    private void checkIndex(long index) {
        if (index < 0 || index >= root.entryCount) throw new IndexOutOfBoundsException("block " + index + " outside 0.." + (root.entryCount - 1));
    }
}
