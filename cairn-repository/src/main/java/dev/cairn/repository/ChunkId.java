package dev.cairn.repository;

import java.nio.ByteBuffer;
import java.util.HexFormat;

/**
 * A content id: SHA-256 of an object's plaintext, or HMAC-SHA256 under the repository's secret id key
 * when it is encrypted (so ids leak nothing). Used for chunks and manifest pages. Four longs make
 * equals/hashCode cheap and take exactly 32 bytes in a manifest page.
 *
 * <p>{@link #ZERO} (32 zero bytes) is reserved: "a block (or page) of zeros, not stored". No real
 * content hashes to it.
 */
public record ChunkId(long w0, long w1, long w2, long w3) {

    /** The reserved id of an all-zero block or page, which is never stored. */
    public static final ChunkId ZERO = new ChunkId(0, 0, 0, 0);

    /** Number of bytes in an id. */
    public static final int BYTES = 32;

    /** The id whose 32 bytes are {@code digest} (big-endian words). */
    public static ChunkId of(byte[] digest) {
        if (digest.length != BYTES) throw new IllegalArgumentException("a content id needs 32 bytes, got " + digest.length);
        return read(ByteBuffer.wrap(digest));
    }

    /** Reads 32 bytes at the buffer's position, advancing it. */
    public static ChunkId read(ByteBuffer in) {
        return new ChunkId(in.getLong(), in.getLong(), in.getLong(), in.getLong());
    }

    /** Parses 64 hex digits. */
    public static ChunkId parse(String hex) {
        if (hex.length() != 64) throw new IllegalArgumentException("a content id is 64 hex digits, got '" + hex + "'");
        return of(HexFormat.of().parseHex(hex));
    }

    /** Writes the 32 bytes at the buffer's position, advancing it. */
    public void writeTo(ByteBuffer out) {
        out.putLong(w0).putLong(w1).putLong(w2).putLong(w3);
    }

    /** The 32 bytes. */
    public byte[] toBytes() {
        byte[] b = new byte[BYTES];
        writeTo(ByteBuffer.wrap(b));
        return b;
    }

    /** True for {@link #ZERO}. */
    public boolean isZero() {
        return (w0 | w1 | w2 | w3) == 0;
    }

    /** 64 lower-case hex digits. */
    @Override
    public String toString() {
        HexFormat h = HexFormat.of();
        return h.toHexDigits(w0) + h.toHexDigits(w1) + h.toHexDigits(w2) + h.toHexDigits(w3);
    }

    /** The first 8 hex digits, for logs (like restic's {@code Str()}). */
    public String shortForm() {
        return HexFormat.of().toHexDigits(w0).substring(0, 8);
    }
}
