package dev.cairn.repository;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The decoded plaintext of a manifest root ({@code docs/repository-format.md} §5): the header fields,
 * the metadata and the page-id list. {@link #encode()} and {@link #decode} are exact inverses;
 * decode checks every field against the others and refuses anything inconsistent.
 *
 * <p>Immutable (the page-id array is never handed out). Thread-safe.
 */
final class ManifestRoot {

    static final long MAGIC = Crypto.magic("cairn manifest v1");
    static final int VERSION = 1;
    static final int FIXED_BYTES = 156;
    static final int MAX_METADATA = 1024;
    static final int MAX_KEY_BYTES = 255;
    static final int MAX_VALUE_BYTES = 64 * 1024;

    final int blockSize;
    final long diskSize;
    final long entryCount;
    final int pageEntries;
    final Instant created;
    final ChunkId parent;
    final long logicalBytes;
    final long nonZeroEntries;
    final long newChunks;
    final long newChunkBytes;
    final long newPageBytes;
    final SortedMap<String, String> metadata;
    private final ChunkId[] pageIds;

    ManifestRoot(int blockSize, long diskSize, int pageEntries, Instant created, ChunkId parent, long logicalBytes,
                 long nonZeroEntries, long newChunks, long newChunkBytes, long newPageBytes, Map<String, String> metadata,
                 ChunkId[] pageIds) {
        this.blockSize = blockSize;
        this.diskSize = diskSize;
        this.entryCount = entryCount(diskSize, blockSize);
        this.pageEntries = pageEntries;
        this.created = Instant.ofEpochMilli(created.toEpochMilli());
        this.parent = parent;
        this.logicalBytes = logicalBytes;
        this.nonZeroEntries = nonZeroEntries;
        this.newChunks = newChunks;
        this.newChunkBytes = newChunkBytes;
        this.newPageBytes = newPageBytes;
        this.metadata = Collections.unmodifiableSortedMap(new TreeMap<>(metadata));
        this.pageIds = pageIds.clone();
        if (pageIds.length != pageCount(entryCount, pageEntries)) throw new IllegalArgumentException("page list has " + pageIds.length + " pages, geometry needs " + pageCount(entryCount, pageEntries));
        checkMetadata(this.metadata);
    }

    static long entryCount(long diskSize, int blockSize) {
        return (diskSize + blockSize - 1) / blockSize;
    }

    static int pageCount(long entryCount, int pageEntries) {
        long pages = (entryCount + pageEntries - 1) / pageEntries;
        if (pages > Integer.MAX_VALUE) throw new IllegalArgumentException("too many pages: " + pages);
        return (int) pages;
    }

    static void checkMetadata(Map<String, String> metadata) {
        if (metadata.size() > MAX_METADATA) throw new IllegalArgumentException("at most " + MAX_METADATA + " metadata entries");
        for (var e : metadata.entrySet()) {
            int k = e.getKey().getBytes(StandardCharsets.UTF_8).length;
            if (k < 1 || k > MAX_KEY_BYTES) throw new IllegalArgumentException("metadata key must be 1.." + MAX_KEY_BYTES + " UTF-8 bytes: '" + e.getKey() + "'");
            if (e.getValue() == null) throw new IllegalArgumentException("metadata value of '" + e.getKey() + "' is null");
            if (e.getValue().getBytes(StandardCharsets.UTF_8).length > MAX_VALUE_BYTES) throw new IllegalArgumentException("metadata value of '" + e.getKey() + "' exceeds 64 KiB");
        }
    }

    int pageCount() {
        return pageIds.length;
    }

    ChunkId pageId(int index) {
        return pageIds[index];
    }

    ChunkId[] pageIds() {
        return pageIds.clone();
    }

    Optional<ManifestId> parentId() {
        return parent.isZero() ? Optional.empty() : Optional.of(new ManifestId(parent));
    }

    /** SHA-256 of the page-id list: a Merkle root of the block map. */
    static byte[] entriesDigest(ChunkId[] pageIds) {
        MessageDigest d = Crypto.sha256();
        ByteBuffer b = ByteBuffer.allocate(ChunkId.BYTES);
        for (ChunkId id : pageIds) {
            b.clear();
            id.writeTo(b);
            d.update(b.array());
        }
        return d.digest();
    }

    byte[] encode() {
        byte[][] keys = new byte[metadata.size()][];
        byte[][] values = new byte[metadata.size()][];
        int metaBytes = 0;
        int i = 0;
        for (var e : metadata.entrySet()) {
            keys[i] = e.getKey().getBytes(StandardCharsets.UTF_8);
            values[i] = e.getValue().getBytes(StandardCharsets.UTF_8);
            metaBytes += 2 + keys[i].length + 4 + values[i].length;
            i++;
        }
        ByteBuffer b = ByteBuffer.allocate(FIXED_BYTES + metaBytes + pageIds.length * ChunkId.BYTES);
        b.putLong(MAGIC).putInt(VERSION).putInt(blockSize).putLong(diskSize).putLong(entryCount)
                .putInt(pageEntries).putInt(pageIds.length).putLong(created.toEpochMilli());
        parent.writeTo(b);
        b.putLong(logicalBytes).putLong(nonZeroEntries).putLong(newChunks).putLong(newChunkBytes).putLong(newPageBytes);
        b.put(entriesDigest(pageIds));
        b.putInt(keys.length);
        for (i = 0; i < keys.length; i++) {
            b.putShort((short) keys[i].length).put(keys[i]).putInt(values[i].length).put(values[i]);
        }
        for (ChunkId id : pageIds) id.writeTo(b);
        return b.array();
    }

    /** Decodes and checks a root's plaintext; {@code detail} of the exception says what is wrong. */
    static ManifestRoot decode(byte[] plaintext) throws InvalidRoot, UnsupportedFormatException {
        ByteBuffer b = ByteBuffer.wrap(plaintext);
        try {
            if (b.getLong() != MAGIC) throw new InvalidRoot("bad magic in the root plaintext");
            int version = b.getInt();
            if (version != VERSION) throw new UnsupportedFormatException("manifest version " + version + " is not supported (this code reads version " + VERSION + ")");
            int blockSize = b.getInt();
            long diskSize = b.getLong();
            long entryCount = b.getLong();
            int pageEntries = b.getInt();
            int pageCount = b.getInt();
            long createdMillis = b.getLong();
            ChunkId parent = ChunkId.read(b);
            long logical = b.getLong();
            long nonZero = b.getLong();
            long newChunks = b.getLong();
            long newChunkBytes = b.getLong();
            long newPageBytes = b.getLong();
            byte[] digest = new byte[32];
            b.get(digest);
            int metaCount = b.getInt();
            if (Integer.bitCount(blockSize) != 1 || blockSize < RepositoryConfig.MIN_BLOCK_SIZE || blockSize > RepositoryConfig.MAX_BLOCK_SIZE) throw new InvalidRoot("bad block size " + blockSize);
            if (Integer.bitCount(pageEntries) != 1 || pageEntries < 16 || pageEntries > 65536) throw new InvalidRoot("bad page entries " + pageEntries);
            if (diskSize < 0 || entryCount != entryCount(diskSize, blockSize)) throw new InvalidRoot("entry count " + entryCount + " does not match disk size " + diskSize);
            if (pageCount != pageCount(entryCount, pageEntries)) throw new InvalidRoot("page count " + pageCount + " does not match " + entryCount + " entries");
            if (nonZero < 0 || nonZero > entryCount || logical < 0 || logical > diskSize) throw new InvalidRoot("bad space figures");
            if (newChunks < 0 || newChunkBytes < 0 || newPageBytes < 0) throw new InvalidRoot("negative counters");
            if (metaCount < 0 || metaCount > MAX_METADATA) throw new InvalidRoot("bad metadata count " + metaCount);
            var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
            TreeMap<String, String> metadata = new TreeMap<>();
            String previous = null;
            for (int i = 0; i < metaCount; i++) {
                int kl = Short.toUnsignedInt(b.getShort());
                if (kl < 1 || kl > MAX_KEY_BYTES) throw new InvalidRoot("bad metadata key length " + kl);
                String key = decoder.decode(b.slice(b.position(), kl)).toString();
                b.position(b.position() + kl);
                int vl = b.getInt();
                if (vl < 0 || vl > MAX_VALUE_BYTES) throw new InvalidRoot("bad metadata value length " + vl);
                String value = decoder.decode(b.slice(b.position(), vl)).toString();
                b.position(b.position() + vl);
                if (previous != null && previous.compareTo(key) >= 0) throw new InvalidRoot("metadata keys are not strictly ascending");
                previous = key;
                metadata.put(key, value);
            }
            if (b.remaining() != (long) pageCount * ChunkId.BYTES) throw new InvalidRoot("page list is " + b.remaining() + " bytes, " + pageCount + " pages need " + (long) pageCount * ChunkId.BYTES);
            ChunkId[] pages = new ChunkId[pageCount];
            for (int i = 0; i < pageCount; i++) pages[i] = ChunkId.read(b);
            if (!MessageDigest.isEqual(digest, entriesDigest(pages))) throw new InvalidRoot("entries digest does not match the page list");
            return new ManifestRoot(blockSize, diskSize, pageEntries, Instant.ofEpochMilli(createdMillis), parent, logical, nonZero,
                    newChunks, newChunkBytes, newPageBytes, metadata, pages);
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new InvalidRoot("root plaintext ends early");
        } catch (CharacterCodingException e) {
            throw new InvalidRoot("metadata is not valid UTF-8");
        } catch (IllegalArgumentException e) {
            throw new InvalidRoot(e.getMessage());
        }
    }

    /** The plaintext decoded but its fields are inconsistent; the caller adds the object key. */
    static final class InvalidRoot extends Exception {
        InvalidRoot(String detail) {
            super(detail, null, false, false);
        }
    }
}
