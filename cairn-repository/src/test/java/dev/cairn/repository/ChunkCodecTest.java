package dev.cairn.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ChunkCodecTest {

    private final ChunkCodec plain = ChunkCodec.unencrypted(3);
    private final ChunkCodec sealed = ChunkCodec.encrypted(3, Blocks.random(32, 10), Blocks.random(32, 11));

    private static byte[] roundTrip(ChunkCodec codec, byte[] data) throws Exception {
        ChunkId id = codec.contentId(data, 0, data.length);
        ByteBuffer stored = codec.encode(ChunkCodec.Type.CHUNK, id, data);
        return codec.decode(ChunkCodec.Type.CHUNK, id, stored, data.length);
    }

    private static int flags(ByteBuffer stored) {
        return stored.get(8) & 0xff;
    }

    @Test
    void compressibleDataIsStoredAsZstdAndRoundTrips() throws Exception {
        byte[] text = Blocks.text(1 << 20, 1);
        ChunkId id = plain.contentId(text, 0, text.length);
        ByteBuffer stored = plain.encode(ChunkCodec.Type.CHUNK, id, text);
        assertThat(flags(stored)).isEqualTo(ChunkCodec.FLAG_ZSTD);
        assertThat(stored.remaining()).isLessThan(text.length / 3);
        assertThat(plain.decode(ChunkCodec.Type.CHUNK, id, stored, text.length)).isEqualTo(text);
    }

    @Test
    void incompressibleDataIsStoredRaw() throws Exception {
        byte[] random = Blocks.random(256 * 1024, 2);
        ChunkId id = plain.contentId(random, 0, random.length);
        ByteBuffer stored = plain.encode(ChunkCodec.Type.CHUNK, id, random);
        assertThat(flags(stored)).as("raw: no zstd flag").isZero();
        assertThat(stored.remaining()).isEqualTo(ChunkCodec.HEADER_BYTES + random.length);
        assertThat(roundTrip(plain, random)).isEqualTo(random);
    }

    @Test
    void layoutIsMagicFlagsReservedLength() {
        byte[] data = Blocks.text(5000, 3);
        ByteBuffer stored = plain.encode(ChunkCodec.Type.CHUNK, plain.contentId(data, 0, data.length), data);
        assertThat(stored.getLong(0)).isEqualTo(Crypto.magic("cairn chunk v1"));
        assertThat(stored.get(9)).isZero();
        assertThat(stored.getShort(10)).isZero();
        assertThat(stored.getInt(12)).isEqualTo(5000);
    }

    private static ByteBuffer direct(byte[] data) {
        return ByteBuffer.allocateDirect(data.length).put(data).flip();
    }

    @Test
    void directEncodingStoresTheSameBytesAsTheHeapPath() throws Exception {
        for (byte[] data : new byte[][] {Blocks.text(256 * 1024, 7), Blocks.random(256 * 1024, 8), Blocks.text(3000, 9)}) {
            ByteBuffer plaintext = direct(data);
            ChunkId id = plain.contentId(plaintext);
            assertThat(id).as("id of a direct buffer").isEqualTo(plain.contentId(data, 0, data.length));
            assertThat(plaintext.position()).isZero();
            ByteBuffer out = ByteBuffer.allocateDirect(plain.maxEncodedLength(data.length));
            ByteBuffer stored = plain.encodeDirect(ChunkCodec.Type.CHUNK, id, plaintext, out);
            assertThat(stored).as("same envelope, flags and zstd frame").isEqualTo(plain.encode(ChunkCodec.Type.CHUNK, id, data));
            assertThat(plain.decode(ChunkCodec.Type.CHUNK, id, stored, data.length)).isEqualTo(data);
            assertThat(plaintext.position()).as("plaintext untouched").isZero();
        }
    }

    @Test
    void directEncodingNeedsDirectBuffersRoomAndNoEncryption() {
        byte[] data = Blocks.text(4096, 1);
        ChunkId id = plain.contentId(data, 0, data.length);
        assertThatThrownBy(() -> plain.encodeDirect(ChunkCodec.Type.CHUNK, id, ByteBuffer.wrap(data), ByteBuffer.allocateDirect(1 << 16)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> plain.encodeDirect(ChunkCodec.Type.CHUNK, id, direct(data), ByteBuffer.allocateDirect(100)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> sealed.encodeDirect(ChunkCodec.Type.CHUNK, id, direct(data), ByteBuffer.allocateDirect(1 << 16)))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void keyedIdsOfDirectBuffersMatchTheArrayPath() {
        byte[] data = Blocks.random(70_000, 12);
        assertThat(sealed.contentId(direct(data))).isEqualTo(sealed.contentId(data, 0, data.length));
    }

    @Test
    void sha256IdsMatchTheJdkDigest() {
        byte[] data = Blocks.random(1000, 4);
        assertThat(plain.contentId(data, 0, data.length).toBytes()).isEqualTo(Crypto.sha256().digest(data));
    }

    @Test
    void encryptedIdsAreKeyedAndDifferFromSha256() throws Exception {
        byte[] data = Blocks.text(4096, 5);
        ChunkId keyed = sealed.contentId(data, 0, data.length);
        assertThat(keyed).isNotEqualTo(plain.contentId(data, 0, data.length));
        ChunkCodec otherKey = ChunkCodec.encrypted(3, Blocks.random(32, 10), Blocks.random(32, 99));
        assertThat(otherKey.contentId(data, 0, data.length)).as("ids depend on the secret id key").isNotEqualTo(keyed);
        assertThat(roundTrip(sealed, data)).isEqualTo(data);
    }

    @Test
    void encryptedObjectsHideThePlaintextAndCarryNonceAndTag() {
        byte[] data = Blocks.text(64 * 1024, 6);
        ChunkId id = sealed.contentId(data, 0, data.length);
        ByteBuffer a = sealed.encode(ChunkCodec.Type.CHUNK, id, data);
        ByteBuffer b = sealed.encode(ChunkCodec.Type.CHUNK, id, data);
        assertThat(flags(a)).isEqualTo(ChunkCodec.FLAG_ZSTD | ChunkCodec.FLAG_ENCRYPTED);
        assertThat(Blocks.read(a)).as("random nonce per object").isNotEqualTo(Blocks.read(b));
        assertThat(new String(Blocks.read(a), java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("snapshot");
    }

    @Test
    void anyFlippedByteIsDetectedAndNamesTheObject() throws Exception {
        for (ChunkCodec codec : new ChunkCodec[] {plain, sealed}) {
            byte[] data = Blocks.text(20_000, 7);
            ChunkId id = codec.contentId(data, 0, data.length);
            byte[] stored = Blocks.read(codec.encode(ChunkCodec.Type.CHUNK, id, data));
            for (int pos : new int[] {0, 8, 9, 12, 15, 16, stored.length / 2, stored.length - 1}) {
                byte[] damaged = stored.clone();
                damaged[pos] ^= 0x40;
                assertThatThrownBy(() -> codec.decode(ChunkCodec.Type.CHUNK, id, ByteBuffer.wrap(damaged), data.length))
                        .as("flip at %d", pos)
                        .isInstanceOf(CorruptObjectException.class)
                        .hasMessageContaining("chunks/" + id.toString().substring(0, 4) + "/" + id);
            }
        }
    }

    @Test
    void objectsStoredUnderTheWrongNameOrTypeAreRefused() {
        byte[] data = Blocks.text(3000, 8);
        ChunkId id = plain.contentId(data, 0, data.length);
        ByteBuffer stored = plain.encode(ChunkCodec.Type.CHUNK, id, data);
        ChunkId other = plain.contentId(Blocks.text(3000, 9), 0, 3000);
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, other, stored, 3000))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("content id mismatch");
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.PAGE, id, stored, 3000))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("bad magic");
        ByteBuffer enc = sealed.encode(ChunkCodec.Type.CHUNK, id, data);
        assertThatThrownBy(() -> sealed.decode(ChunkCodec.Type.CHUNK, other, enc, 3000))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("authentication tag");
    }

    @Test
    void encryptionMustMatchTheRepository() {
        byte[] data = Blocks.text(3000, 10);
        ChunkId id = plain.contentId(data, 0, data.length);
        ByteBuffer unencrypted = plain.encode(ChunkCodec.Type.CHUNK, id, data);
        assertThatThrownBy(() -> sealed.decode(ChunkCodec.Type.CHUNK, id, unencrypted, 3000))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("unencrypted object in an encrypted repository");
        ByteBuffer encrypted = sealed.encode(ChunkCodec.Type.CHUNK, id, data);
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, encrypted, 3000))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("encrypted object in an unencrypted repository");
    }

    @Test
    void truncatedAndOversizedObjectsAreCorrupt() {
        byte[] data = Blocks.text(3000, 11);
        ChunkId id = plain.contentId(data, 0, data.length);
        byte[] stored = Blocks.read(plain.encode(ChunkCodec.Type.CHUNK, id, data));
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, ByteBuffer.wrap(stored, 0, 10), 3000))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("shorter than the header");
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, ByteBuffer.wrap(stored, 0, stored.length - 5), 3000))
                .isInstanceOf(CorruptObjectException.class);
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, ByteBuffer.wrap(stored), 2999))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("exceeds");
    }

    @Test
    void decodeIntoAnOffsetOfALargerBuffer() throws Exception {
        byte[] data = Blocks.text(10_000, 12);
        ChunkId id = plain.contentId(data, 0, data.length);
        byte[] dst = new byte[20_000];
        int n = plain.decode(ChunkCodec.Type.CHUNK, id, plain.encode(ChunkCodec.Type.CHUNK, id, data), dst, 100, dst.length - 100, 16_384);
        assertThat(n).isEqualTo(10_000);
        assertThat(java.util.Arrays.copyOfRange(dst, 100, 10_100)).isEqualTo(data);
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, plain.encode(ChunkCodec.Type.CHUNK, id, data), new byte[5000], 0, 5000, 16_384))
                .isInstanceOf(IllegalArgumentException.class);
        // the room given, not the array's end, bounds the write: a neighbour's bytes stay untouched
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, plain.encode(ChunkCodec.Type.CHUNK, id, data), dst, 0, 9_999, 16_384))
                .isInstanceOf(IllegalArgumentException.class);
    }
    @Test
    void decodeIntoNativeMemoryFromHeapNativeAndReadOnlyStoredBytes() throws Exception {
        for (ChunkCodec codec : new ChunkCodec[] {plain, sealed}) {
            for (byte[] data : new byte[][] {Blocks.text(64 * 1024, 13), Blocks.random(64 * 1024, 14)}) { // zstd and raw
                ChunkId id = codec.contentId(data, 0, data.length);
                ByteBuffer stored = codec.encode(ChunkCodec.Type.CHUNK, id, data);
                for (ByteBuffer in : new ByteBuffer[] {stored, direct(Blocks.read(stored)), stored.asReadOnlyBuffer()}) {
                    ByteBuffer dst = ByteBuffer.allocateDirect(data.length + 200).position(100);
                    assertThat(codec.decode(ChunkCodec.Type.CHUNK, id, in, dst, data.length)).isEqualTo(data.length);
                    assertThat(dst.position()).isEqualTo(100 + data.length);
                    byte[] got = new byte[data.length];
                    dst.get(100, got);
                    assertThat(got).isEqualTo(data);
                    assertThat(dst.get(99)).isZero();
                    assertThat(dst.get(100 + data.length)).as("nothing past the plaintext").isZero();
                }
            }
        }
    }

    @Test
    void decodeIntoNativeMemoryChecksAsTheArrayPathDoes() {
        byte[] data = Blocks.text(20_000, 15);
        ChunkId id = plain.contentId(data, 0, data.length);
        byte[] stored = Blocks.read(plain.encode(ChunkCodec.Type.CHUNK, id, data));
        byte[] damaged = stored.clone();
        damaged[stored.length / 2] ^= 0x40;
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, direct(damaged), ByteBuffer.allocateDirect(data.length), data.length))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining(id.toString());
        ChunkId other = plain.contentId(Blocks.text(20_000, 16), 0, 20_000);
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, other, direct(stored), ByteBuffer.allocateDirect(data.length), data.length))
                .isInstanceOf(CorruptObjectException.class).hasMessageContaining("content id mismatch");
        ByteBuffer small = ByteBuffer.allocateDirect(data.length - 1);
        assertThatThrownBy(() -> plain.decode(ChunkCodec.Type.CHUNK, id, direct(stored), small, data.length))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(small.position()).isZero();
    }
}
