package dev.cairn.repository;

/**
 * Choices made once, at {@link Repository#create}: recorded in the config and fixed for the
 * repository's life.
 *
 * @param blockSize bytes per block; a power of two from 4 KiB to 16 MiB. Default {@link #DEFAULT_BLOCK_SIZE}, chosen by
 *     measurement ({@code docs/block-size.md})
 * @param pageEntries manifest entries per page; a power of two from 16 to 65536
 * @param compressionLevel zstd level, 1..19 (1 by default: {@code docs/repository-format.md} §4 says why)
 * @param key null for an unencrypted repository; else the passphrase or key file that will unlock it
 * @param kdfIterations PBKDF2 iterations for a passphrase (≥ 1000; OWASP's 600,000 by default)
 * @param formatVersion 1 (a backend object per chunk) or 2 (packs); see {@code docs/repository-format.md}
 */
public record RepositoryOptions(int blockSize, int pageEntries, int compressionLevel, RepositoryKey key, int kdfIterations, int formatVersion) {

    /** 64 KiB (with format 2's packs): see {@code docs/block-size.md} for the measurements behind it. */
    public static final int DEFAULT_BLOCK_SIZE = 64 * 1024;
    public static final int DEFAULT_PAGE_ENTRIES = 512;
    public static final int DEFAULT_COMPRESSION_LEVEL = 1;
    public static final int DEFAULT_KDF_ITERATIONS = 600_000;
    public static final int DEFAULT_FORMAT_VERSION = Integer.getInteger("cairn.repositoryFormat", RepositoryConfig.FORMAT_PACKS);

    public RepositoryOptions {
        if (formatVersion != RepositoryConfig.FORMAT_CHUNK_OBJECTS && formatVersion != RepositoryConfig.FORMAT_PACKS) {
            throw new IllegalArgumentException("repository format must be 1 or 2: " + formatVersion);
        }
        if (kdfIterations < Crypto.MIN_PBKDF2_ITERATIONS) throw new IllegalArgumentException("PBKDF2 iterations must be at least " + Crypto.MIN_PBKDF2_ITERATIONS);
        // The other fields are checked by RepositoryConfig's constructor at create time.
    }

    /** Unencrypted, default block size, page size and compression. */
    public static RepositoryOptions defaults() {
        return new RepositoryOptions(DEFAULT_BLOCK_SIZE, DEFAULT_PAGE_ENTRIES, DEFAULT_COMPRESSION_LEVEL, null, DEFAULT_KDF_ITERATIONS, DEFAULT_FORMAT_VERSION);
    }

    public RepositoryOptions withBlockSize(int size) {
        return new RepositoryOptions(size, pageEntries, compressionLevel, key, kdfIterations, formatVersion);
    }

    public RepositoryOptions withPageEntries(int entries) {
        return new RepositoryOptions(blockSize, entries, compressionLevel, key, kdfIterations, formatVersion);
    }

    public RepositoryOptions withCompressionLevel(int level) {
        return new RepositoryOptions(blockSize, pageEntries, level, key, kdfIterations, formatVersion);
    }

    /** Encrypts the repository; the key unlocks it at open. */
    public RepositoryOptions withKey(RepositoryKey k) {
        return new RepositoryOptions(blockSize, pageEntries, compressionLevel, k, kdfIterations, formatVersion);
    }

    public RepositoryOptions withKdfIterations(int iterations) {
        return new RepositoryOptions(blockSize, pageEntries, compressionLevel, key, iterations, formatVersion);
    }

    /** Format 1 (a backend object per chunk) or 2 (packs). */
    public RepositoryOptions withFormatVersion(int version) {
        return new RepositoryOptions(blockSize, pageEntries, compressionLevel, key, kdfIterations, version);
    }
}
