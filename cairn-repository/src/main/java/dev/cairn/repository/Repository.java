package dev.cairn.repository;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The snapshot repository: content-addressed chunks and paged manifests in a {@link Backend}, as
 * {@code docs/repository-format.md} specifies. The one entry point of this module.
 *
 * <p><b>Typical use by the snapshot engine.</b>
 * <pre>{@code
 * Repository repo = Repository.open(backend, key);             // or create(backend, options)
 * try (ManifestWriter w = repo.newManifest(parentOrNull, diskSize, Map.of("snapshot", "snap-1"))) {
 *     for (long block : changedBlocks) w.putBlock(block, readBlock(block));   // any order, any thread
 *     ManifestId id = w.commit();                              // chunks → pages → root, all durable
 *     catalog.markNormal(snapshot, id);                        // only now
 * }
 * }</pre>
 *
 * <p><b>What stays true.</b> Every chunk and page a committed manifest lists was durable before its
 * root was written. Blocks of zeros are never stored. Every object read is verified against its
 * content id. Objects are never modified; they are created by writers and deleted only by
 * {@link #deleteManifest} (roots) and {@link GarbageCollector} (chunks, pages; in format 2 whole packs,
 * after their live chunks moved). Chunks are kept by a {@link ChunkStore}: one object each (format 1)
 * or packed (format 2).
 *
 * <p><b>Threads.</b> Thread-safe. Open one {@code Repository} per backend per process: its
 * {@link WriterRegistry} is what keeps GC from deleting chunks that in-flight writers use.
 */
public final class Repository {

    private static final Logger log = LoggerFactory.getLogger(Repository.class);
    static final ObjectKey CONFIG = new ObjectKey(ObjectKind.CONFIG, "config");
    static final ObjectKey CONFIG_COPY = new ObjectKey(ObjectKind.CONFIG, "config.copy");
    private static final ByteBuffer ZEROS = ByteBuffer.allocate(64 * 1024).asReadOnlyBuffer();

    private final Backend backend;
    private final RepositoryConfig config;
    private final ChunkCodec codec;
    private final ChunkStore chunks;
    private final InstantSource clock;
    private final WriterRegistry writers;
    /** One for the repository, so its caches of roots and pages serve every caller (billing, the space refresh). */
    private final SpaceAccounting spaceAccounting = new SpaceAccounting(this);
    /** Reusable encode buffers, one per concurrent put, so a put allocates no block-sized array. */
    private final ArrayBlockingQueue<byte[]> scratch = new ArrayBlockingQueue<>(16);
    /** The same for blocks in direct buffers (see {@link ChunkCodec#encodeDirect}). */
    private final ArrayBlockingQueue<ByteBuffer> directScratch = new ArrayBlockingQueue<>(16);
    /** Pages the last snapshots wrote or read: the next snapshot of a disk starts from its parent's in memory. */
    private final PageCache pages = new PageCache(PageCache.DEFAULT_BYTES);

    private Repository(Backend backend, RepositoryConfig config, ChunkCodec codec, InstantSource clock) throws IOException {
        this.backend = backend;
        this.config = config;
        this.codec = codec;
        this.chunks = config.packed()
                ? PackChunkStore.open(backend, codec, config.blockSize(), Integer.getInteger("cairn.packBytes", PackChunkStore.DEFAULT_TARGET_PACK_BYTES), clock)
                : new ObjectChunkStore(backend);
        this.clock = clock;
        this.writers = new WriterRegistry(clock);
    }

    // ---------------------------------------------------------------- create / open

    /** {@link #create(Backend, RepositoryOptions, InstantSource)} on the system clock. */
    public static Repository create(Backend backend, RepositoryOptions options) throws IOException {
        return create(backend, options, InstantSource.system());
    }

    /**
     * Initializes an empty backend: writes {@code config.copy} then {@code config}, each durable.
     *
     * @throws IOException if the backend already holds a repository config
     */
    public static Repository create(Backend backend, RepositoryOptions options, InstantSource clock) throws IOException {
        if (backend.exists(CONFIG) || backend.exists(CONFIG_COPY)) {
            throw new IOException("there is already a repository at " + backend.describe());
        }
        byte[] repositoryId = Crypto.randomBytes(32);
        String idHex = HexFormat.of().formatHex(repositoryId);
        RepositoryConfig.Encryption encryption = null;
        ChunkCodec codec;
        if (options.key() != null) {
            RepositoryConfig.Kdf kdf = switch (options.key()) {
                case RepositoryKey.Passphrase p -> RepositoryConfig.Kdf.PBKDF2_HMAC_SHA256;
                case RepositoryKey.KeyFile f -> RepositoryConfig.Kdf.KEYFILE_HMAC_SHA256;
            };
            byte[] salt = Crypto.randomBytes(16);
            int iterations = kdf == RepositoryConfig.Kdf.PBKDF2_HMAC_SHA256 ? options.kdfIterations() : 0;
            byte[] kek = Crypto.deriveKek(options.key(), kdf, iterations, salt);
            byte[] material = Crypto.randomBytes(2 * Crypto.KEY_BYTES);
            byte[] wrapped = Crypto.wrap(kek, material, repositoryId);
            encryption = new RepositoryConfig.Encryption(kdf, iterations, HexFormat.of().formatHex(salt), HexFormat.of().formatHex(wrapped));
            codec = ChunkCodec.encrypted(options.compressionLevel(), Arrays.copyOf(material, 32), Arrays.copyOfRange(material, 32, 64));
            Arrays.fill(material, (byte) 0);
            Arrays.fill(kek, (byte) 0);
        } else {
            codec = ChunkCodec.unencrypted(options.compressionLevel());
        }
        RepositoryConfig config = new RepositoryConfig(options.formatVersion(), idHex, clock.instant(), options.blockSize(),
                options.pageEntries(), encryption == null ? RepositoryConfig.ChunkIdAlgorithm.SHA256 : RepositoryConfig.ChunkIdAlgorithm.HMAC_SHA256,
                options.compressionLevel(), encryption);
        byte[] bytes = config.toBytes();
        if (!backend.putIfAbsent(CONFIG_COPY, ByteBuffer.wrap(bytes)) || !backend.putIfAbsent(CONFIG, ByteBuffer.wrap(bytes))) {
            throw new IOException("another process created a repository at " + backend.describe() + " at the same time");
        }
        log.info("created repository {} at {}: format {}, block size {}, {}", idHex.substring(0, 8), backend.describe(), config.formatVersion(), config.blockSize(),
                config.encrypted() ? "encrypted (" + config.encryption().kdf() + ")" : "unencrypted");
        return new Repository(backend, config, codec, clock);
    }

    /** True if {@code backend} holds a repository (either copy of its config). */
    public static boolean exists(Backend backend) throws IOException {
        return backend.exists(CONFIG) || backend.exists(CONFIG_COPY);
    }

    /** {@link #open(Backend, RepositoryKey, InstantSource)} on the system clock. */
    public static Repository open(Backend backend, RepositoryKey key) throws IOException {
        return open(backend, key, InstantSource.system());
    }

    /**
     * Opens an existing repository. Reads {@code config}, falling back to {@code config.copy} (with a
     * warning) if it is missing or damaged.
     *
     * @param key the passphrase or key file of an encrypted repository; null for an unencrypted one
     * @throws WrongKeyException if the key does not unlock it (or none was given for an encrypted one)
     * @throws UnsupportedFormatException if it was written by a newer format version
     * @throws CorruptObjectException if both config copies are damaged
     */
    public static Repository open(Backend backend, RepositoryKey key, InstantSource clock) throws IOException {
        RepositoryConfig config = readConfig(backend);
        ChunkCodec codec;
        if (config.encrypted()) {
            if (key == null) throw new WrongKeyException("repository at " + backend.describe() + " is encrypted: a passphrase or key file is needed");
            RepositoryConfig.Encryption e = config.encryption();
            byte[] kek = Crypto.deriveKek(key, e.kdf(), e.iterations(), HexFormat.of().parseHex(e.salt()));
            String what = key instanceof RepositoryKey.Passphrase ? "passphrase" : "key file";
            byte[] material = Crypto.unwrap(kek, HexFormat.of().parseHex(e.wrappedMasterKey()), config.repositoryIdBytes(), what);
            Arrays.fill(kek, (byte) 0);
            if (material.length != 2 * Crypto.KEY_BYTES) throw new CorruptObjectException(CONFIG, "master key material has " + material.length + " bytes");
            codec = ChunkCodec.encrypted(config.compressionLevel(), Arrays.copyOf(material, 32), Arrays.copyOfRange(material, 32, 64));
            Arrays.fill(material, (byte) 0);
        } else {
            if (key != null) log.warn("repository at {} is not encrypted; the key given is not used", backend.describe());
            codec = ChunkCodec.unencrypted(config.compressionLevel());
        }
        log.info("opened repository {} at {}: format {}, block size {}, {}", config.repositoryId().substring(0, 8), backend.describe(), config.formatVersion(), config.blockSize(),
                config.encrypted() ? "encrypted" : "unencrypted");
        return new Repository(backend, config, codec, clock);
    }

    private static RepositoryConfig readConfig(Backend backend) throws IOException {
        IOException primaryFailure;
        try {
            return RepositoryConfig.parse(CONFIG, bytes(backend.get(CONFIG)));
        } catch (UnsupportedFormatException e) {
            throw e; // a valid config of a newer version: the copy says the same
        } catch (NoSuchObjectException | CorruptObjectException e) {
            primaryFailure = e;
        }
        try {
            RepositoryConfig config = RepositoryConfig.parse(CONFIG_COPY, bytes(backend.get(CONFIG_COPY)));
            log.warn("repository at {}: {}; using {} (run verify, then restore the config from the copy)", backend.describe(), primaryFailure.getMessage(), CONFIG_COPY);
            return config;
        } catch (NoSuchObjectException e) {
            if (primaryFailure instanceof NoSuchObjectException) throw new IOException("no repository at " + backend.describe() + " (no config object)");
            throw primaryFailure;
        } catch (CorruptObjectException e) {
            CorruptObjectException both = new CorruptObjectException(CONFIG, "both config copies are unusable: " + primaryFailure.getMessage() + "; " + e.getMessage());
            both.addSuppressed(e);
            throw both;
        }
    }

    /** The remaining bytes of {@code b} as an array (its own array when it is exactly that). */
    public static byte[] bytesOf(ByteBuffer b) {
        return bytes(b);
    }

    static byte[] bytes(ByteBuffer b) {
        if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.remaining() == b.array().length) return b.array();
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    // ---------------------------------------------------------------- accessors

    public RepositoryConfig config() {
        return config;
    }

    public int blockSize() {
        return config.blockSize();
    }

    public Backend backend() {
        return backend;
    }

    /** The writers in flight in this process; GC respects every id they publish. */
    public WriterRegistry writers() {
        return writers;
    }

    ChunkCodec codec() {
        return codec;
    }

    /** Where the chunks are kept (format 1: an object each; format 2: packs). */
    ChunkStore chunks() {
        return chunks;
    }

    InstantSource clock() {
        return clock;
    }

    // ---------------------------------------------------------------- blocks

    /**
     * Stores one block (1 … block size bytes, from position to limit; the position is not moved) on
     * behalf of {@code writer}, which publishes its id first so a concurrent GC keeps the chunk. A block
     * of zeros is not stored and returns {@link ChunkId#ZERO}. A block already in the repository is not
     * compressed or written again (dedup).
     *
     * <p>{@link ManifestWriter#putBlock} does this and records the entry; use this method directly only
     * for chunks that are referenced some other way before {@code writer} closes.
     */
    public PutResult putBlock(WriterRegistry.Writer writer, ByteBuffer plaintext) throws IOException {
        try (Backend.Batch batch = backend.batch()) {
            ChunkStore.Writes writes = chunks.writes(batch);
            PutResult r = putBlock(writer, plaintext, writes);
            writes.flush();
            batch.commit();
            writes.committed();
            return r;
        }
    }

    /**
     * {@link #putBlock(WriterRegistry.Writer, ByteBuffer)} through a writer's {@code writes}: the chunk is
     * durable and findable only once their batch commits ({@link ManifestWriter} commits it before any
     * root refers to the chunk).
     */
    PutResult putBlock(WriterRegistry.Writer writer, ByteBuffer plaintext, ChunkStore.Writes writes) throws IOException {
        int len = plaintext.remaining();
        if (len == 0 || len > config.blockSize()) throw new IllegalArgumentException("a block holds 1.." + config.blockSize() + " bytes, got " + len);
        if (isAllZero(plaintext)) return new PutResult(ChunkId.ZERO, false, 0);
        ChunkId id = codec.contentId(plaintext);
        writer.publishChunk(id); // before the existence check: see WriterRegistry
        if (writes.holds(id) || chunks.contains(id)) return new PutResult(id, false, 0);
        if (plaintext.isDirect() && !codec.encrypted()) {
            // a block read with O_DIRECT: encoded and written from native memory, never copied to the heap
            ByteBuffer buffer = directScratch.poll();
            if (buffer == null) buffer = ByteBuffer.allocateDirect(codec.maxEncodedLength(config.blockSize()));
            try {
                return store(id, codec.encodeDirect(ChunkCodec.Type.CHUNK, id, plaintext, buffer), writes);
            } finally {
                directScratch.offer(buffer); // a full pool drops it: memory stays bounded
            }
        }
        byte[] a;
        int off;
        if (plaintext.hasArray()) {
            a = plaintext.array();
            off = plaintext.arrayOffset() + plaintext.position();
        } else {
            a = new byte[len];
            plaintext.duplicate().get(a);
            off = 0;
        }
        byte[] buffer = scratch.poll();
        if (buffer == null) buffer = new byte[codec.maxEncodedLength(config.blockSize())];
        try {
            return store(id, codec.encode(ChunkCodec.Type.CHUNK, id, a, off, len, buffer), writes);
        } finally {
            scratch.offer(buffer); // a full pool drops it: memory stays bounded
        }
    }

    private PutResult store(ChunkId id, ByteBuffer encoded, ChunkStore.Writes writes) throws IOException {
        long size = encoded.remaining();
        boolean stored = writes.put(id, encoded); // copied or written before it returns
        return new PutResult(id, stored, stored ? size : 0);
    }

    /**
     * Reads and verifies the chunk {@code id} into {@code dst} (from its position, which advances).
     * For {@link ChunkId#ZERO}, writes {@code min(dst.remaining(), block size)} zeros.
     *
     * @return the number of bytes written
     * @throws NoSuchObjectException if the chunk is not in the repository
     * @throws CorruptObjectException if it fails verification
     * @throws IllegalArgumentException if {@code dst} has too little room for the chunk
     */
    public int readBlock(ChunkId id, ByteBuffer dst) throws IOException {
        if (id.isZero()) {
            int n = Math.min(dst.remaining(), config.blockSize());
            for (int left = n; left > 0; left -= Math.min(left, ZEROS.capacity())) dst.put(ZEROS.slice(0, Math.min(left, ZEROS.capacity())));
            return n;
        }
        return decodeInto(id, chunks.get(id), dst);
    }

    /** Verifies and decodes chunk {@code id}'s stored object into {@code dst}; returns the plaintext's length. */
    private int decodeInto(ChunkId id, ByteBuffer stored, ByteBuffer dst) throws CorruptObjectException {
        return codec.decode(ChunkCodec.Type.CHUNK, id, stored, dst, config.blockSize());
    }

    /**
     * {@link #readBlock} for several chunks at once, each into its own buffer: the stored chunks are
     * fetched together (neighbours in a pack with one request), then each is verified and decoded.
     *
     * @return each chunk's plaintext length, in order
     */
    public int[] readBlocks(ChunkId[] ids, ByteBuffer[] dsts) throws IOException {
        if (ids.length != dsts.length) throw new IllegalArgumentException(ids.length + " chunks, " + dsts.length + " buffers");
        int stored = 0;
        for (ChunkId id : ids) if (!id.isZero()) stored++;
        ChunkId[] wanted = new ChunkId[stored];
        for (int i = 0, j = 0; i < ids.length; i++) if (!ids[i].isZero()) wanted[j++] = ids[i];
        ByteBuffer[] objects = chunks.getAll(wanted);
        int[] lengths = new int[ids.length];
        for (int i = 0, j = 0; i < ids.length; i++) {
            lengths[i] = ids[i].isZero() ? readBlock(ids[i], dsts[i]) : decodeInto(ids[i], objects[j++], dsts[i]);
        }
        return lengths;
    }

    /**
     * A hint that these chunks will be read soon (a flatten's next stretch): the backend may start
     * fetching them in the background — locally, the OS reads the packs' ranges into its cache. Returns
     * at once; never fails.
     */
    public void willRead(ChunkId[] ids) {
        chunks.willRead(ids);
    }

    /** True if the chunk is stored (ZERO counts as present). */
    public boolean containsChunk(ChunkId id) throws IOException {
        return id.isZero() || chunks.contains(id);
    }

    /**
     * The stored (encoded) form of chunk {@code id}, as the backend holds it, unverified. Another
     * unencrypted repository can take it as it is ({@link ManifestWriter#putStoredChunk}), which checks it.
     */
    public ByteBuffer readStoredChunk(ChunkId id) throws IOException {
        return chunks.get(id);
    }

    /** Decodes {@code stored} as chunk {@code id} (verifying it) and returns the plaintext's length. */
    int verifyStoredChunk(ChunkId id, ByteBuffer stored) throws CorruptObjectException {
        return codec.decode(ChunkCodec.Type.CHUNK, id, stored.duplicate(), config.blockSize()).length;
    }

    /**
     * Deletes chunk {@code id} if it is stored but fails verification, so that a later put can store it
     * again (a damaged object would otherwise pass for present). A chunk that verifies is left alone.
     *
     * @return true if a damaged chunk was deleted
     */
    public boolean dropDamagedChunk(ChunkId id) throws IOException {
        try {
            codec.decode(ChunkCodec.Type.CHUNK, id, chunks.get(id), config.blockSize());
            return false;
        } catch (NoSuchObjectException e) {
            return false;
        } catch (CorruptObjectException e) {
            log.warn("deleting damaged chunk {}: {}", id.shortForm(), e.getMessage());
            chunks.delete(id);
            return true;
        }
    }

    static boolean isAllZero(ByteBuffer b) {
        ByteBuffer rest = b.duplicate();
        while (rest.hasRemaining()) {
            int n = Math.min(rest.remaining(), ZEROS.capacity());
            if (rest.slice(rest.position(), n).mismatch(ZEROS.slice(0, n)) >= 0) return false;
            rest.position(rest.position() + n);
        }
        return true;
    }

    // ---------------------------------------------------------------- manifests

    /**
     * Starts a manifest for a disk of {@code diskSize} bytes, registered as a writer from now on.
     *
     * @param parent the manifest this one derives from (its entries are the starting point; only pages
     *     with changed entries are rewritten), or null to start from an all-zero disk. The caller must
     *     keep the parent from being deleted until this writer commits or closes.
     * @param metadata opaque key/values stored in the root (the catalog is rebuilt from them)
     */
    public ManifestWriter newManifest(ManifestId parent, long diskSize, Map<String, String> metadata) throws IOException {
        if (diskSize < 0) throw new IllegalArgumentException("negative disk size " + diskSize);
        ManifestRoot.checkMetadata(metadata);
        ManifestRoot parentRoot = parent == null ? null : readRoot(parent).root();
        String name = metadata.getOrDefault("snapshot", parent == null ? "manifest" : "child of " + parent.shortForm());
        return new ManifestWriter(this, name, parent, parentRoot, diskSize, metadata);
    }

    /** Opens a manifest for reading; reads and verifies its root now, its pages when needed. */
    public ManifestReader openManifest(ManifestId id) throws IOException {
        LoadedRoot loaded = readRoot(id);
        return new ManifestReader(this, id, loaded.root(), loaded.storedBytes());
    }

    /** Every manifest in the repository, in no particular order. */
    public List<ManifestId> listManifests() throws IOException {
        List<ManifestId> ids = new ArrayList<>();
        backend.list(ObjectKind.MANIFEST, info -> ids.add(new ManifestId(ChunkId.parse(info.key().name()))));
        return ids;
    }

    /**
     * Deletes a manifest's root (durably; idempotent). Its pages and chunks become garbage for
     * {@link GarbageCollector} unless other manifests share them.
     */
    public void deleteManifest(ManifestId id) throws IOException {
        backend.delete(ChunkCodec.Type.ROOT.keyOf(id.content()));
        spaceAccounting.forget(id);
        backend.delete(deletedKey(id)); // after the root: a crash in between leaves a marker of nothing, which gc removes
        log.info("deleted manifest {}", id.shortForm());
    }

    /**
     * Records (durably; idempotent) that the snapshot manifest {@code id}'s metadata names was deleted
     * while the root stays, as a disk's parent or base: the repository alone then still says which
     * snapshots exist, and a catalog rebuilt from it does not bring this one back.
     */
    public void markSnapshotDeleted(ManifestId id) throws IOException {
        backend.putIfAbsent(deletedKey(id), ByteBuffer.allocate(0));
    }

    /** Manifests whose snapshot was deleted ({@link #markSnapshotDeleted}); a marker may outlive its root until gc. */
    public Set<ManifestId> deletedSnapshotManifests() throws IOException {
        Set<ManifestId> ids = new HashSet<>();
        backend.list(ObjectKind.DELETED, info -> ids.add(new ManifestId(ChunkId.parse(info.key().name()))));
        return ids;
    }

    /** Removes a deletion marker whose manifest root is gone (gc); idempotent. */
    public void dropDeletionMarker(ManifestId id) throws IOException {
        backend.delete(deletedKey(id));
    }

    private static ObjectKey deletedKey(ManifestId id) {
        return new ObjectKey(ObjectKind.DELETED, id.content().toString());
    }

    record LoadedRoot(ManifestRoot root, long storedBytes) {}

    LoadedRoot readRoot(ManifestId id) throws IOException {
        ObjectKey key = ChunkCodec.Type.ROOT.keyOf(id.content());
        ByteBuffer stored = backend.get(key);
        byte[] plain = codec.decode(ChunkCodec.Type.ROOT, id.content(), stored, ChunkCodec.MAX_PLAINTEXT);
        ManifestRoot root;
        try {
            root = ManifestRoot.decode(plain);
        } catch (ManifestRoot.InvalidRoot e) {
            throw new CorruptObjectException(key, e.getMessage());
        }
        if (root.blockSize != config.blockSize()) throw new CorruptObjectException(key, "block size " + root.blockSize + " differs from the repository's " + config.blockSize());
        return new LoadedRoot(root, stored.remaining());
    }

    /** Reads and verifies a page of any valid size (its length gives its entry count); returns 4 words per entry. */
    long[] readPage(ChunkId pageId) throws IOException {
        ObjectKey key = ChunkCodec.Type.PAGE.keyOf(pageId);
        byte[] plain = codec.decode(ChunkCodec.Type.PAGE, pageId, backend.get(key), 65536 * ChunkId.BYTES);
        int entries = plain.length / ChunkId.BYTES;
        if (plain.length % ChunkId.BYTES != 0 || Integer.bitCount(entries) != 1 || entries < 16) {
            throw new CorruptObjectException(key, "page holds " + plain.length + " bytes, not a valid page size");
        }
        long[] words = new long[entries * 4];
        ByteBuffer.wrap(plain).asLongBuffer().get(words);
        return words;
    }

    /**
     * Page {@code pageId} of {@code entries} ids from memory if a recent writer or reader had it, else read
     * and verified. The array is shared: never change it (copy it first).
     */
    long[] cachedPage(ChunkId pageId, int entries) throws IOException {
        long[] words = pages.get(pageId, () -> readPage(pageId, entries));
        if (words.length != entries * 4) {
            throw new CorruptObjectException(ChunkCodec.Type.PAGE.keyOf(pageId), "page holds " + words.length / 4 + " entries, not " + entries);
        }
        return words;
    }

    /** Keeps a page a writer has just committed for the next writer or reader ({@code words} never changes again). */
    void committedPage(ChunkId pageId, long[] words) {
        pages.put(pageId, words);
    }

    /** Reads and verifies a page of {@code entries} ids; returns 4 words per entry. */
    long[] readPage(ChunkId pageId, int entries) throws IOException {
        ObjectKey key = ChunkCodec.Type.PAGE.keyOf(pageId);
        byte[] plain = codec.decode(ChunkCodec.Type.PAGE, pageId, backend.get(key), entries * ChunkId.BYTES);
        if (plain.length != entries * ChunkId.BYTES) throw new CorruptObjectException(key, "page holds " + plain.length + " bytes, " + entries + " entries need " + entries * ChunkId.BYTES);
        long[] words = new long[entries * 4];
        ByteBuffer.wrap(plain).asLongBuffer().get(words);
        return words;
    }

    // ---------------------------------------------------------------- maintenance

    /** Verifies the repository; see {@link Verifier}. */
    public VerifyReport verify(double sampleFraction, Cancellation cancellation) throws IOException {
        return new Verifier(this).verify(sampleFraction, cancellation);
    }

    /** {@link #verify(double, Cancellation)} without a cancellation token. */
    public VerifyReport verify(double sampleFraction) throws IOException {
        return verify(sampleFraction, Cancellation.none());
    }

    /** A garbage collector that spares garbage younger than {@code grace} (PBS uses 24 h 5 min). */
    public GarbageCollector garbageCollector(Duration grace) {
        return new GarbageCollector(this, grace);
    }

    /** Space figures (exclusive and total stored bytes) computed from manifests, shared; see {@link SpaceAccounting}. */
    public SpaceAccounting spaceAccounting() {
        return spaceAccounting;
    }

    @Override
    public String toString() {
        return "repository " + config.repositoryId().substring(0, 8) + " at " + backend.describe();
    }
}
