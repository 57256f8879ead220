package dev.cairn.repository;

import dev.cairn.repository.backend.ObjectKey;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The repository's config object ({@code docs/repository-format.md} §3): format version, repository id,
 * block size, page entries, chunk id algorithm, compression, and — when encrypted — the KDF parameters
 * and the wrapped master key. Immutable; written once at create time (twice: {@code config.copy}
 * and {@code config}) and never rewritten.
 *
 * <p>Serialized as fixed-order {@code name=value} lines ending in a SHA-256 checksum line. The parser
 * refuses an unknown format version ({@link UnsupportedFormatException}), and any damage, unknown or
 * missing line ({@link CorruptObjectException}).
 *
 * @param repositoryId 64 hex digits (32 random bytes); also the associated data of the wrapped key
 * @param encryption null for an unencrypted repository
 */
public record RepositoryConfig(int formatVersion, String repositoryId, Instant created, int blockSize, int pageEntries,
                               ChunkIdAlgorithm chunkIdAlgorithm, int compressionLevel, Encryption encryption) {

    /** Format 1: a backend object per chunk. */
    public static final int FORMAT_CHUNK_OBJECTS = 1;
    /** Format 2: chunks in packs, found through index objects (see {@code docs/repository-format.md}). */
    public static final int FORMAT_PACKS = 2;
    /** The newest format version; this code reads and writes both. */
    public static final int FORMAT_VERSION = FORMAT_PACKS;
    static final String FIRST_LINE = "cairn-repository-config";
    public static final int MIN_BLOCK_SIZE = 4 * 1024;
    public static final int MAX_BLOCK_SIZE = 16 * 1024 * 1024;

    /** How content ids are computed. */
    public enum ChunkIdAlgorithm {
        SHA256("sha256"), HMAC_SHA256("hmac-sha256");
        final String text;

        ChunkIdAlgorithm(String text) {
            this.text = text;
        }
    }

    /** How the key-encryption key is derived. */
    public enum Kdf {
        PBKDF2_HMAC_SHA256("pbkdf2-hmac-sha256"), KEYFILE_HMAC_SHA256("keyfile-hmac-sha256");
        final String text;

        Kdf(String text) {
            this.text = text;
        }
    }

    /** AES-256-GCM parameters: the KDF and the wrapped master key (nonce || ciphertext || tag). */
    public record Encryption(Kdf kdf, int iterations, String salt, String wrappedMasterKey) {
        public Encryption {
            if (kdf == null || salt == null || wrappedMasterKey == null) throw new IllegalArgumentException("incomplete encryption parameters");
            if (kdf == Kdf.PBKDF2_HMAC_SHA256 && iterations < Crypto.MIN_PBKDF2_ITERATIONS) throw new IllegalArgumentException("PBKDF2 needs at least " + Crypto.MIN_PBKDF2_ITERATIONS + " iterations");
        }
    }

    public RepositoryConfig {
        if (formatVersion != FORMAT_CHUNK_OBJECTS && formatVersion != FORMAT_PACKS) throw new IllegalArgumentException("format version " + formatVersion);
        if (repositoryId == null || repositoryId.length() != 64) throw new IllegalArgumentException("repository id must be 64 hex digits");
        if (Integer.bitCount(blockSize) != 1 || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
            throw new IllegalArgumentException("block size must be a power of two from 4 KiB to 16 MiB: " + blockSize);
        }
        if (Integer.bitCount(pageEntries) != 1 || pageEntries < 16 || pageEntries > 65536) {
            throw new IllegalArgumentException("page entries must be a power of two from 16 to 65536: " + pageEntries);
        }
        if (compressionLevel < 1 || compressionLevel > 19) throw new IllegalArgumentException("zstd level must be 1..19: " + compressionLevel);
        if ((encryption == null) != (chunkIdAlgorithm == ChunkIdAlgorithm.SHA256)) {
            throw new IllegalArgumentException("encrypted repositories use hmac-sha256 ids, unencrypted ones sha256");
        }
    }

    public boolean encrypted() {
        return encryption != null;
    }

    /** True for format 2: chunks live in packs. */
    public boolean packed() {
        return formatVersion == FORMAT_PACKS;
    }

    /** The 32 repository-id bytes. */
    byte[] repositoryIdBytes() {
        return HexFormat.of().parseHex(repositoryId);
    }

    /** The serialized object (UTF-8 lines with the checksum line last). */
    public byte[] toBytes() {
        StringBuilder b = new StringBuilder();
        b.append(FIRST_LINE).append('\n');
        line(b, "format-version", Integer.toString(formatVersion));
        line(b, "repository-id", repositoryId);
        line(b, "created", created.toString());
        line(b, "block-size", Integer.toString(blockSize));
        line(b, "page-entries", Integer.toString(pageEntries));
        line(b, "chunk-id", chunkIdAlgorithm.text);
        line(b, "compression", "zstd");
        line(b, "compression-level", Integer.toString(compressionLevel));
        line(b, "encryption", encrypted() ? "aes-256-gcm" : "none");
        if (encrypted()) {
            line(b, "kdf", encryption.kdf().text);
            line(b, "kdf-iterations", Integer.toString(encryption.kdf() == Kdf.PBKDF2_HMAC_SHA256 ? encryption.iterations() : 0));
            line(b, "kdf-salt", encryption.salt());
            line(b, "master-key", encryption.wrappedMasterKey());
        }
        byte[] body = b.toString().getBytes(StandardCharsets.UTF_8);
        String checksum = "checksum=sha256:" + HexFormat.of().formatHex(Crypto.sha256().digest(body)) + "\n";
        byte[] out = new byte[body.length + checksum.length()];
        System.arraycopy(body, 0, out, 0, body.length);
        System.arraycopy(checksum.getBytes(StandardCharsets.US_ASCII), 0, out, body.length, checksum.length());
        return out;
    }

    private static void line(StringBuilder b, String name, String value) {
        b.append(name).append('=').append(value).append('\n');
    }

    /** Parses and checks a config object read from {@code key}. */
    public static RepositoryConfig parse(ObjectKey key, byte[] bytes) throws CorruptObjectException, UnsupportedFormatException {
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (!text.endsWith("\n")) throw new CorruptObjectException(key, "config does not end with a newline (truncated?)");
        int lastLine = text.lastIndexOf('\n', text.length() - 2) + 1;
        String checksumLine = text.substring(lastLine, text.length() - 1);
        if (!checksumLine.startsWith("checksum=sha256:")) throw new CorruptObjectException(key, "config has no checksum line");
        byte[] body = text.substring(0, lastLine).getBytes(StandardCharsets.UTF_8);
        String actual = HexFormat.of().formatHex(Crypto.sha256().digest(body));
        if (!checksumLine.substring("checksum=sha256:".length()).equals(actual)) throw new CorruptObjectException(key, "config checksum mismatch");

        List<String> lines = List.of(text.substring(0, lastLine).split("\n", -1));
        lines = lines.subList(0, lines.size() - 1); // the split leaves one empty string after the last newline
        Lines in = new Lines(key, lines);
        if (!in.next().equals(FIRST_LINE)) throw new CorruptObjectException(key, "not a cairn repository config (first line)");
        int version = in.integer("format-version");
        if (version != FORMAT_CHUNK_OBJECTS && version != FORMAT_PACKS) {
            throw new UnsupportedFormatException("repository format version " + version + " is not supported (this code reads versions 1 and 2)");
        }
        String repositoryId = in.value("repository-id");
        if (repositoryId.length() != 64 || !repositoryId.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            throw new CorruptObjectException(key, "bad repository-id");
        }
        Instant created;
        try {
            created = Instant.parse(in.value("created"));
        } catch (DateTimeParseException e) {
            throw new CorruptObjectException(key, "bad created time", e);
        }
        int blockSize = in.integer("block-size");
        int pageEntries = in.integer("page-entries");
        String idText = in.value("chunk-id");
        ChunkIdAlgorithm idAlgorithm = switch (idText) {
            case "sha256" -> ChunkIdAlgorithm.SHA256;
            case "hmac-sha256" -> ChunkIdAlgorithm.HMAC_SHA256;
            default -> throw new UnsupportedFormatException("chunk id algorithm '" + idText + "' is not supported");
        };
        String compression = in.value("compression");
        if (!compression.equals("zstd")) throw new UnsupportedFormatException("compression '" + compression + "' is not supported");
        int level = in.integer("compression-level");
        String encryptionText = in.value("encryption");
        Encryption encryption = switch (encryptionText) {
            case "none" -> null;
            case "aes-256-gcm" -> {
                String kdfText = in.value("kdf");
                Kdf kdf = switch (kdfText) {
                    case "pbkdf2-hmac-sha256" -> Kdf.PBKDF2_HMAC_SHA256;
                    case "keyfile-hmac-sha256" -> Kdf.KEYFILE_HMAC_SHA256;
                    default -> throw new UnsupportedFormatException("key derivation '" + kdfText + "' is not supported");
                };
                int iterations = in.integer("kdf-iterations");
                String salt = in.hex("kdf-salt");
                String wrapped = in.hex("master-key");
                try {
                    yield new Encryption(kdf, iterations, salt, wrapped);
                } catch (IllegalArgumentException e) {
                    throw new CorruptObjectException(key, e.getMessage());
                }
            }
            default -> throw new UnsupportedFormatException("encryption '" + encryptionText + "' is not supported");
        };
        if (in.hasNext()) throw new CorruptObjectException(key, "unexpected line '" + in.next() + "'");
        try {
            return new RepositoryConfig(version, repositoryId, created, blockSize, pageEntries, idAlgorithm, level, encryption);
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, "inconsistent config: " + e.getMessage());
        }
    }

    /** A cursor over the config's lines that names what is missing. */
    private static final class Lines {
        private final ObjectKey key;
        private final List<String> lines;
        private int next;

        Lines(ObjectKey key, List<String> lines) {
            this.key = key;
            this.lines = new ArrayList<>(lines);
        }

        boolean hasNext() {
            return next < lines.size();
        }

        String next() throws CorruptObjectException {
            if (!hasNext()) throw new CorruptObjectException(key, "config ends early");
            return lines.get(next++);
        }

        String value(String name) throws CorruptObjectException {
            String line = next();
            if (!line.startsWith(name + "=")) throw new CorruptObjectException(key, "expected '" + name + "=' but found '" + line + "'");
            return line.substring(name.length() + 1);
        }

        int integer(String name) throws CorruptObjectException {
            String v = value(name);
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new CorruptObjectException(key, "bad " + name + " '" + v + "'");
            }
        }

        String hex(String name) throws CorruptObjectException {
            String v = value(name);
            if (v.isEmpty() || v.length() % 2 != 0 || !v.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                throw new CorruptObjectException(key, "bad hex in " + name);
            }
            return v;
        }
    }
}
