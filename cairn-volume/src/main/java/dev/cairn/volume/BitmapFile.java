package dev.cairn.volume;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32C;
import org.roaringbitmap.RoaringBitmap;

/**
 * The small durable file that holds a block bitmap with a label: a disk's change-tracking set
 * ({@code .cbt}) and an overlay's presence set and base ({@code .overlay}).
 *
 * <p>Format (big-endian): 8-byte magic, version 1, block size, label (2-byte length + UTF-8), bitmap
 * (4-byte length + RoaringBitmap portable serialization), CRC32C of everything before. Written with
 * {@link AtomicFiles#write}, so a reader sees the old file or the new one, never half of one.
 */
record BitmapFile(int blockSize, String label, RoaringBitmap bitmap) {
    private static final int VERSION = 1;

    static void write(Path file, String magic, int blockSize, String label, RoaringBitmap bitmap) throws IOException {
        var bytes = new ByteArrayOutputStream();
        var out = new DataOutputStream(bytes);
        out.write(magic(magic));
        out.writeInt(VERSION);
        out.writeInt(blockSize);
        byte[] l = label.getBytes(StandardCharsets.UTF_8);
        out.writeShort(l.length);
        out.write(l);
        bitmap.runOptimize();
        out.writeInt(bitmap.serializedSizeInBytes());
        bitmap.serialize(out);
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeInt((int) crc.getValue());
        AtomicFiles.write(file, bytes.toByteArray(), null);
    }

    /** The file's content, or null if there is no file. */
    static BitmapFile read(Path file, String magic) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return null;
        }
        try {
            if (bytes.length < 8 + 4 + 4) throw new IOException("too short");
            CRC32C crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 4);
            int stored = ((bytes[bytes.length - 4] & 0xff) << 24) | ((bytes[bytes.length - 3] & 0xff) << 16)
                    | ((bytes[bytes.length - 2] & 0xff) << 8) | (bytes[bytes.length - 1] & 0xff);
            if ((int) crc.getValue() != stored) throw new IOException("checksum mismatch");
            var in = new DataInputStream(new ByteArrayInputStream(bytes, 0, bytes.length - 4));
            if (!Arrays.equals(in.readNBytes(8), magic(magic))) throw new IOException("not a " + magic + " file");
            int version = in.readInt();
            if (version != VERSION) throw new IOException("unknown version " + version);
            int blockSize = in.readInt();
            String label = new String(in.readNBytes(in.readUnsignedShort()), StandardCharsets.UTF_8);
            in.readInt();
            RoaringBitmap set = new RoaringBitmap();
            set.deserialize(in);
            return new BitmapFile(blockSize, label, set);
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + " is damaged: " + e.getMessage(), e);
        }
    }

    private static byte[] magic(String magic) {
        byte[] m = magic.getBytes(StandardCharsets.US_ASCII);
        if (m.length != 8) throw new IllegalArgumentException("magic must be 8 bytes: " + magic);
        return m;
    }
}
