package dev.cairn.repository;

import dev.cairn.repository.backend.ObjectKey;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes of format 2's packs and index objects ({@code docs/repository-format.md} §4a).
 *
 * <pre>
 * pack    = chunk-object* || trailer
 * trailer = entry* || count(4) || digest(32) || trailer-length(4) || magic(8)
 * entry   = chunk id(32) || offset(4) || length(4)      offset and length of its chunk object in the pack
 * digest  = SHA-256(entry* || count)                     trailer-length = bytes of the whole trailer
 *
 * index plaintext = pack-count(4) || pack*
 * pack            = pack name(32) || entry-count(4) || entry*
 * </pre>
 *
 * A chunk object is exactly the §4 envelope a format-1 chunk file holds. The trailer makes a pack
 * self-describing, so index objects are only a cache: whatever they say, a pack's own trailer is the
 * truth, and a repository whose index objects are lost is rebuilt by reading trailers.
 */
final class PackFormat {

    static final long PACK_MAGIC = Crypto.magic("cairn pack v1");
    static final int ENTRY_BYTES = ChunkId.BYTES + 8;
    /** count, digest, trailer length, magic. */
    static final int TRAILER_FIXED_BYTES = 4 + 32 + 4 + 8;
    /** The last bytes of a pack: trailer length and magic. */
    static final int TAIL_BYTES = 12;
    /** Packs never grow past this (offsets are 32-bit; a reader refuses larger trailers). */
    static final int MAX_PACK_BYTES = 256 * 1024 * 1024;

    /** Where a chunk's object lies in its pack. */
    record Entry(ChunkId id, int offset, int length) {}

    /** One pack's entries, as an index object lists them. */
    record PackEntries(String pack, List<Entry> entries) {}

    private PackFormat() {}

    static byte[] trailer(List<Entry> entries) {
        int entryBytes = entries.size() * ENTRY_BYTES;
        ByteBuffer b = ByteBuffer.allocate(entryBytes + TRAILER_FIXED_BYTES);
        for (Entry e : entries) putEntry(b, e);
        b.putInt(entries.size());
        MessageDigest d = Crypto.sha256();
        d.update(b.array(), 0, entryBytes + 4);
        b.put(d.digest());
        b.putInt(b.capacity());
        b.putLong(PACK_MAGIC);
        return b.array();
    }

    /** The trailer's length, from a pack's last {@link #TAIL_BYTES} bytes. */
    static int trailerLength(ObjectKey pack, long packSize, ByteBuffer tail) throws CorruptObjectException {
        if (tail.remaining() != TAIL_BYTES) throw new CorruptObjectException(pack, "pack is shorter than its trailer");
        ByteBuffer t = tail.duplicate();
        long length = Integer.toUnsignedLong(t.getInt());
        if (t.getLong() != PACK_MAGIC) throw new CorruptObjectException(pack, "bad pack magic: not a pack of format 2");
        if (length < TRAILER_FIXED_BYTES || length > packSize || (length - TRAILER_FIXED_BYTES) % ENTRY_BYTES != 0) {
            throw new CorruptObjectException(pack, "trailer length " + length + " is not valid for a pack of " + packSize + " bytes");
        }
        return (int) length;
    }

    /** Parses and checks a whole trailer (its digest, and every entry within the pack's data). */
    static List<Entry> parseTrailer(ObjectKey pack, long packSize, ByteBuffer trailer) throws CorruptObjectException {
        ByteBuffer t = trailer.duplicate();
        int length = t.remaining();
        int count = (length - TRAILER_FIXED_BYTES) / ENTRY_BYTES;
        byte[] body = new byte[count * ENTRY_BYTES + 4];
        t.get(body);
        MessageDigest d = Crypto.sha256();
        byte[] expected = d.digest(body);
        byte[] digest = new byte[32];
        t.get(digest);
        if (!MessageDigest.isEqual(expected, digest)) throw new CorruptObjectException(pack, "trailer digest does not match");
        ByteBuffer in = ByteBuffer.wrap(body);
        List<Entry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) entries.add(readEntry(pack, in, packSize - length));
        if (in.getInt() != count) throw new CorruptObjectException(pack, "trailer count does not match its length");
        return entries;
    }

    static byte[] indexPlaintext(List<PackEntries> packs) {
        int size = 4;
        for (PackEntries p : packs) size += ChunkId.BYTES + 4 + p.entries().size() * ENTRY_BYTES;
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putInt(packs.size());
        for (PackEntries p : packs) {
            ChunkId.parse(p.pack()).writeTo(b);
            b.putInt(p.entries().size());
            for (Entry e : p.entries()) putEntry(b, e);
        }
        return b.array();
    }

    static List<PackEntries> parseIndex(ObjectKey key, byte[] plaintext) throws CorruptObjectException {
        ByteBuffer in = ByteBuffer.wrap(plaintext);
        try {
            int packs = in.getInt();
            if (packs < 0) throw new CorruptObjectException(key, "negative pack count");
            List<PackEntries> out = new ArrayList<>(Math.min(packs, 1 << 16));
            for (int i = 0; i < packs; i++) {
                String name = ChunkId.read(in).toString();
                int count = in.getInt();
                if (count < 0 || (long) count * ENTRY_BYTES > in.remaining()) throw new CorruptObjectException(key, "entry count " + count + " overruns the index");
                List<Entry> entries = new ArrayList<>(count);
                for (int j = 0; j < count; j++) entries.add(readEntry(key, in, MAX_PACK_BYTES));
                out.add(new PackEntries(name, entries));
            }
            if (in.hasRemaining()) throw new CorruptObjectException(key, in.remaining() + " bytes after the last pack");
            return out;
        } catch (java.nio.BufferUnderflowException e) {
            throw new CorruptObjectException(key, "index ends early");
        }
    }

    private static void putEntry(ByteBuffer b, Entry e) {
        e.id().writeTo(b);
        b.putInt(e.offset());
        b.putInt(e.length());
    }

    private static Entry readEntry(ObjectKey where, ByteBuffer in, long dataBytes) throws CorruptObjectException {
        ChunkId id = ChunkId.read(in);
        long offset = Integer.toUnsignedLong(in.getInt());
        long length = Integer.toUnsignedLong(in.getInt());
        if (id.isZero() || length < ChunkCodec.HEADER_BYTES || offset + length > dataBytes) {
            throw new CorruptObjectException(where, "entry " + id.shortForm() + " at " + offset + "+" + length + " lies outside the pack's " + dataBytes + " data bytes");
        }
        return new Entry(id, (int) offset, (int) length);
    }
}
