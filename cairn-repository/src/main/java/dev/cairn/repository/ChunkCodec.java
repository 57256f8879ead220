package dev.cairn.repository;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.lang.ref.Cleaner;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;

/**
 * Encodes and decodes the object envelope of {@code docs/repository-format.md} §4 — {@code magic(8) ||
 * flags(1) || reserved(3) || plaintext-length(4) || payload}, payload = zstd frame or raw plaintext,
 * wrapped in AES-256-GCM ({@code nonce(12) || ciphertext || tag(16)}, associated data = header || id)
 * when the repository is encrypted — and computes content ids (SHA-256, or HMAC-SHA256 under the
 * secret id key).
 *
 * <p><b>What stays true.</b> {@link #decode} returns plaintext only after every check passed: magic
 * of the expected type, known flags, encryption matching the repository, length within bounds,
 * GCM tag, zstd frame size, and finally the content id recomputed from the plaintext equal to the
 * id the object is stored under. Any failure is a {@link CorruptObjectException} naming the object.
 * Data that zstd would shrink by less than 1/64 is stored raw, so reading it costs no decompression.
 *
 * <p><b>Threads.</b> Thread-safe; each call makes its own digest/cipher objects and borrows a zstd
 * context from a small pool (a fresh native context per chunk costs as much as compressing an
 * incompressible block).
 */
public final class ChunkCodec {

    /** The envelope types; each has its own magic (type and version) and object kind. */
    public enum Type {
        CHUNK("cairn chunk v1", ObjectKind.CHUNK),
        PAGE("cairn manifest page v1", ObjectKind.PAGE),
        ROOT("cairn manifest v1", ObjectKind.MANIFEST),
        /** Format 2: which chunks the packs hold, where (see {@link PackFormat}). */
        INDEX("cairn pack index v1", ObjectKind.INDEX);

        final long magic;
        final ObjectKind kind;

        Type(String name, ObjectKind kind) {
            this.magic = Crypto.magic(name);
            this.kind = kind;
        }

        /** The key an object of this type with this id is stored under. */
        public ObjectKey keyOf(ChunkId id) {
            return new ObjectKey(kind, id.toString());
        }
    }

    static final int HEADER_BYTES = 16;
    static final int FLAG_ZSTD = 1;
    static final int FLAG_ENCRYPTED = 2;
    /** Largest plaintext of any object (a root of a huge disk with tiny blocks stays far below it). */
    public static final int MAX_PLAINTEXT = 64 * 1024 * 1024;

    private final int level;
    private final byte[] encryptionKey;
    private final byte[] idKey;
    /** Idle zstd contexts; a full pool closes what comes back, so at most this many stay allocated. */
    private final ArrayBlockingQueue<ZstdCompressCtx> compressors = new ArrayBlockingQueue<>(16);
    private final ArrayBlockingQueue<ZstdDecompressCtx> decompressors = new ArrayBlockingQueue<>(16);
    /** zstd-jni frees a context's native memory only on close: the pools are closed when the codec is collected. */
    private static final Cleaner CLEANER = Cleaner.create();

    private ChunkCodec(int level, byte[] encryptionKey, byte[] idKey) {
        if (level < 1 || level > 19) throw new IllegalArgumentException("zstd level must be 1..19: " + level);
        this.level = level;
        this.encryptionKey = encryptionKey;
        this.idKey = idKey;
        CLEANER.register(this, new ClosePools(compressors, decompressors));
    }

    /** Closes the idle contexts of a codec nobody uses any more (it must not refer to the codec). */
    private record ClosePools(ArrayBlockingQueue<ZstdCompressCtx> compressors, ArrayBlockingQueue<ZstdDecompressCtx> decompressors) implements Runnable {
        @Override
        public void run() {
            for (ZstdCompressCtx z; (z = compressors.poll()) != null; ) z.close();
            for (ZstdDecompressCtx z; (z = decompressors.poll()) != null; ) z.close();
        }
    }

    /** An unencrypted codec: SHA-256 ids, zstd at {@code level}. */
    public static ChunkCodec unencrypted(int level) {
        return new ChunkCodec(level, null, null);
    }

    /** An encrypted codec: HMAC-SHA256 ids under {@code idKey}, AES-256-GCM under {@code encryptionKey}. */
    static ChunkCodec encrypted(int level, byte[] encryptionKey, byte[] idKey) {
        if (encryptionKey.length != Crypto.KEY_BYTES || idKey.length != Crypto.KEY_BYTES) throw new IllegalArgumentException("keys must be 32 bytes");
        return new ChunkCodec(level, encryptionKey.clone(), idKey.clone());
    }

    public boolean encrypted() {
        return encryptionKey != null;
    }

    /** The content id of {@code a[off, off+len)}. */
    public ChunkId contentId(byte[] a, int off, int len) {
        if (idKey == null) {
            MessageDigest d = Crypto.sha256();
            d.update(a, off, len);
            return ChunkId.of(d.digest());
        }
        Mac mac = Crypto.hmacSha256(idKey);
        mac.update(a, off, len);
        return ChunkId.of(mac.doFinal());
    }

    /** The content id of the buffer's remaining bytes (its position is not changed). */
    public ChunkId contentId(ByteBuffer plaintext) {
        if (plaintext.hasArray()) return contentId(plaintext.array(), plaintext.arrayOffset() + plaintext.position(), plaintext.remaining());
        if (idKey == null) {
            MessageDigest d = Crypto.sha256();
            d.update(plaintext.duplicate());
            return ChunkId.of(d.digest());
        }
        Mac mac = Crypto.hmacSha256(idKey);
        mac.update(plaintext.duplicate());
        return ChunkId.of(mac.doFinal());
    }

    /** The largest encoding of a plaintext of {@code length} bytes: the size {@link #encode} needs as scratch. */
    public int maxEncodedLength(int length) {
        return HEADER_BYTES + (encrypted() ? Crypto.NONCE_BYTES + Crypto.TAG_BYTES : 0) + (int) Math.max(Zstd.compressBound(length), length);
    }

    /**
     * Encodes {@code a[off, off+len)} whose content id is {@code id}.
     *
     * @return the stored bytes, positioned at 0
     */
    public ByteBuffer encode(Type type, ChunkId id, byte[] a, int off, int len) {
        return encode(type, id, a, off, len, null);
    }

    /**
     * Encodes into {@code scratch} when it has {@link #maxEncodedLength} room (else into a new array), so
     * a caller can reuse one buffer per thread instead of allocating a block-sized array per chunk
     * (with G1, arrays of half a region or more are "humongous" and expensive).
     *
     * @return the stored bytes, positioned at 0, backed by {@code scratch} or a new array
     */
    public ByteBuffer encode(Type type, ChunkId id, byte[] a, int off, int len, byte[] scratch) {
        if (len < 0 || len > MAX_PLAINTEXT) throw new IllegalArgumentException("plaintext length " + len + " out of range");
        int bound = (int) Math.max(Zstd.compressBound(len), len);
        int payloadAt = HEADER_BYTES + (encrypted() ? Crypto.NONCE_BYTES : 0);
        int needed = maxEncodedLength(len);
        byte[] out = scratch != null && scratch.length >= needed ? scratch : new byte[needed];
        int flags;
        int payloadLength;
        long compressed = -1;
        if (len > 0) {
            ZstdCompressCtx z = compressor();
            try {
                compressed = z.compressByteArray(out, payloadAt, bound, a, off, len);
            } catch (ZstdException e) {
                compressed = -1; // cannot happen with a compressBound-sized output; storing raw is still right
            } finally {
                release(z);
            }
        }
        if (compressed > 0 && compressed < len - (len >> 6)) {
            flags = FLAG_ZSTD;
            payloadLength = (int) compressed;
        } else {
            flags = 0; // incompressible (or empty): store raw, reading it costs no decompression
            System.arraycopy(a, off, out, payloadAt, len);
            payloadLength = len;
        }
        if (encrypted()) flags |= FLAG_ENCRYPTED;
        ByteBuffer header = ByteBuffer.wrap(out, 0, HEADER_BYTES);
        header.putLong(type.magic).put((byte) flags).put((byte) 0).putShort((short) 0).putInt(len);
        int total = payloadAt + payloadLength;
        if (encrypted()) {
            byte[] nonce = Crypto.randomBytes(Crypto.NONCE_BYTES);
            System.arraycopy(nonce, 0, out, HEADER_BYTES, Crypto.NONCE_BYTES);
            Cipher c = Crypto.gcm(Cipher.ENCRYPT_MODE, encryptionKey, nonce);
            c.updateAAD(out, 0, HEADER_BYTES);
            c.updateAAD(id.toBytes());
            try {
                total = payloadAt + c.doFinal(out, payloadAt, payloadLength, out, payloadAt); // in place: Cipher is copy-safe
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES-GCM encryption failed", e);
            }
        }
        return ByteBuffer.wrap(out, 0, total);
    }

    /**
     * Encodes the remaining bytes of the direct buffer {@code plaintext} (its position is not changed)
     * into the direct buffer {@code out}, which needs {@link #maxEncodedLength} room, without a copy on
     * the heap: captures read blocks with O_DIRECT into direct buffers. Unencrypted codecs only.
     *
     * @return the stored bytes: a slice of {@code out} from its index 0
     */
    public ByteBuffer encodeDirect(Type type, ChunkId id, ByteBuffer plaintext, ByteBuffer out) {
        if (encrypted()) throw new IllegalStateException("encodeDirect is for unencrypted repositories");
        if (!plaintext.isDirect() || !out.isDirect()) throw new IllegalArgumentException("encodeDirect takes direct buffers");
        int len = plaintext.remaining();
        if (len > MAX_PLAINTEXT) throw new IllegalArgumentException("plaintext length " + len + " out of range");
        if (out.capacity() < maxEncodedLength(len)) throw new IllegalArgumentException("output buffer of " + out.capacity() + " bytes, needs " + maxEncodedLength(len));
        int bound = (int) Math.max(Zstd.compressBound(len), len);
        long compressed = -1;
        if (len > 0) {
            ZstdCompressCtx z = compressor();
            try {
                compressed = z.compressDirectByteBuffer(out, HEADER_BYTES, bound, plaintext, plaintext.position(), len);
            } catch (ZstdException e) {
                compressed = -1; // cannot happen with a compressBound-sized output; storing raw is still right
            } finally {
                release(z);
            }
        }
        int flags = 0;
        int payloadLength = len;
        if (compressed > 0 && compressed < len - (len >> 6)) {
            flags = FLAG_ZSTD;
            payloadLength = (int) compressed;
        } else {
            out.put(HEADER_BYTES, plaintext, plaintext.position(), len); // stored raw
        }
        out.putLong(0, type.magic).put(8, (byte) flags).put(9, (byte) 0).putShort(10, (short) 0).putInt(12, len);
        return out.slice(0, HEADER_BYTES + payloadLength);
    }

    private ZstdCompressCtx compressor() {
        ZstdCompressCtx z = compressors.poll();
        return z != null ? z : new ZstdCompressCtx().setLevel(level);
    }

    private void release(ZstdCompressCtx z) {
        if (!compressors.offer(z)) z.close();
    }

    /** {@link #encode(Type, ChunkId, byte[], int, int)} of a whole array. */
    public ByteBuffer encode(Type type, ChunkId id, byte[] plaintext) {
        return encode(type, id, plaintext, 0, plaintext.length);
    }

    /**
     * Decodes an object stored under {@code id} into {@code dst[dstOff … dstOff + room)}.
     *
     * @param maxLength the largest plaintext this object may have (block size for chunks)
     * @return the plaintext length
     * @throws CorruptObjectException if any check fails
     * @throws IllegalArgumentException if {@code room} is less than the object's plaintext
     */
    public int decode(Type type, ChunkId id, ByteBuffer stored, byte[] dst, int dstOff, int room, int maxLength) throws CorruptObjectException {
        ObjectKey key = type.keyOf(id);
        ByteBuffer in = stored.duplicate();
        Header header = parseHeader(type, key, in, maxLength);
        if (Math.min(room, dst.length - dstOff) < header.length()) {
            throw new IllegalArgumentException("destination has room for " + Math.min(room, dst.length - dstOff) + " bytes, " + key + " holds " + header.length());
        }
        return decodeBody(key, id, in, header, dst, dstOff);
    }

    /** Decodes into a new array of the exact plaintext length. */
    public byte[] decode(Type type, ChunkId id, ByteBuffer stored, int maxLength) throws CorruptObjectException {
        ObjectKey key = type.keyOf(id);
        ByteBuffer in = stored.duplicate();
        Header header = parseHeader(type, key, in, maxLength);
        byte[] out = new byte[header.length()];
        decodeBody(key, id, in, header, out, 0);
        return out;
    }

    private record Header(byte[] bytes, int flags, int length) {}

    private Header parseHeader(Type type, ObjectKey key, ByteBuffer in, int maxLength) throws CorruptObjectException {
        if (in.remaining() < HEADER_BYTES) throw new CorruptObjectException(key, "only " + in.remaining() + " bytes, shorter than the header");
        byte[] header = new byte[HEADER_BYTES];
        in.get(header);
        ByteBuffer h = ByteBuffer.wrap(header);
        long magic = h.getLong();
        if (magic != type.magic) throw new CorruptObjectException(key, "bad magic " + Long.toHexString(magic) + ", not a " + type.name().toLowerCase() + " object of format v1");
        int flags = h.get() & 0xff;
        if ((flags & ~(FLAG_ZSTD | FLAG_ENCRYPTED)) != 0) throw new CorruptObjectException(key, "unknown flags " + Integer.toHexString(flags));
        if (h.get() != 0 || h.getShort() != 0) throw new CorruptObjectException(key, "reserved header bytes are not zero");
        long length = Integer.toUnsignedLong(h.getInt());
        if (length > maxLength || length > MAX_PLAINTEXT) throw new CorruptObjectException(key, "plaintext length " + length + " exceeds " + maxLength);
        boolean isEncrypted = (flags & FLAG_ENCRYPTED) != 0;
        if (isEncrypted != encrypted()) {
            throw new CorruptObjectException(key, isEncrypted ? "encrypted object in an unencrypted repository" : "unencrypted object in an encrypted repository");
        }
        return new Header(header, flags, (int) length);
    }

    /**
     * Decodes an object stored under {@code id} into {@code dst} (heap or native memory), which advances
     * by the plaintext's length; the checks of {@link #decode(Type, ChunkId, ByteBuffer, byte[], int, int, int)}.
     */
    public int decode(Type type, ChunkId id, ByteBuffer stored, ByteBuffer dst, int maxLength) throws CorruptObjectException {
        if (dst.hasArray()) {
            int n = decode(type, id, stored, dst.array(), dst.arrayOffset() + dst.position(), dst.remaining(), maxLength);
            dst.position(dst.position() + n);
            return n;
        }
        ObjectKey key = type.keyOf(id);
        ByteBuffer in = stored.duplicate();
        Header header = parseHeader(type, key, in, maxLength);
        int n = header.length();
        if (dst.remaining() < n) throw new IllegalArgumentException("destination has room for " + dst.remaining() + " bytes, " + key + " holds " + n);
        ByteBuffer p = payload(key, id, in, header);
        ByteBuffer payload = p.isDirect() || p.hasArray() ? p : ByteBuffer.wrap(copyOf(p)); // read-only heap: no array to hand zstd
        ByteBuffer out = dst.slice(dst.position(), n);
        if ((header.flags() & FLAG_ZSTD) != 0) {
            long got = decompress(key, z -> payload.isDirect()
                    ? z.decompressDirectByteBuffer(out, 0, n, payload, payload.position(), payload.remaining())
                    : z.decompressByteArrayToDirectByteBuffer(out, 0, n, payload.array(), payload.arrayOffset() + payload.position(), payload.remaining()));
            if (got != n) throw new CorruptObjectException(key, "zstd frame holds " + got + " bytes, header says " + n);
        } else {
            if (payload.remaining() != n) throw new CorruptObjectException(key, "raw payload is " + payload.remaining() + " bytes, header says " + n);
            out.put(0, payload, payload.position(), n);
        }
        checkId(key, id, contentId(out));
        dst.position(dst.position() + n);
        return n;
    }

    /** The object's payload after the header: decrypted (and authenticated) if the repository is encrypted, else the stored bytes. */
    private ByteBuffer payload(ObjectKey key, ChunkId id, ByteBuffer in, Header header) throws CorruptObjectException {
        if ((header.flags() & FLAG_ENCRYPTED) == 0) return in;
        if (in.remaining() < Crypto.NONCE_BYTES + Crypto.TAG_BYTES) throw new CorruptObjectException(key, "too short for nonce and tag");
        byte[] nonce = new byte[Crypto.NONCE_BYTES];
        in.get(nonce);
        byte[] sealed = new byte[in.remaining()];
        in.get(sealed);
        Cipher c = Crypto.gcm(Cipher.DECRYPT_MODE, encryptionKey, nonce);
        c.updateAAD(header.bytes());
        c.updateAAD(id.toBytes());
        try {
            return ByteBuffer.wrap(c.doFinal(sealed));
        } catch (AEADBadTagException e) {
            throw new CorruptObjectException(key, "authentication tag mismatch (damaged, or stored under the wrong name)");
        } catch (GeneralSecurityException e) {
            throw new CorruptObjectException(key, "decryption failed: " + e.getMessage(), e);
        }
    }

    /** One decompression with a pooled context (a context that failed is closed, not reused). */
    private long decompress(ObjectKey key, java.util.function.ToLongFunction<ZstdDecompressCtx> call) throws CorruptObjectException {
        ZstdDecompressCtx z = decompressors.poll();
        if (z == null) z = new ZstdDecompressCtx();
        try {
            return call.applyAsLong(z);
        } catch (ZstdException e) {
            z.close();
            z = null;
            throw new CorruptObjectException(key, "zstd: " + e.getMessage(), e);
        } finally {
            if (z != null && !decompressors.offer(z)) z.close();
        }
    }

    private static byte[] copyOf(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    private static void checkId(ObjectKey key, ChunkId id, ChunkId actual) throws CorruptObjectException {
        if (!actual.equals(id)) throw new CorruptObjectException(key, "content id mismatch: the plaintext hashes to " + actual.shortForm());
    }

    private int decodeBody(ObjectKey key, ChunkId id, ByteBuffer in, Header header, byte[] dst, int dstOff) throws CorruptObjectException {
        ByteBuffer p = payload(key, id, in, header);
        byte[] payload;
        int payloadOff;
        int payloadLen = p.remaining();
        if (p.hasArray()) {
            payload = p.array();
            payloadOff = p.arrayOffset() + p.position();
        } else {
            payload = copyOf(p);
            payloadOff = 0;
        }
        int n = header.length();
        if ((header.flags() & FLAG_ZSTD) != 0) {
            long got = decompress(key, z -> z.decompressByteArray(dst, dstOff, n, payload, payloadOff, payloadLen));
            if (got != n) throw new CorruptObjectException(key, "zstd frame holds " + got + " bytes, header says " + n);
        } else {
            if (payloadLen != n) throw new CorruptObjectException(key, "raw payload is " + payloadLen + " bytes, header says " + n);
            System.arraycopy(payload, payloadOff, dst, dstOff, n);
        }
        checkId(key, id, contentId(dst, dstOff, n));
        return n;
    }
}
