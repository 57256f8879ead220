package dev.cairn.nbd;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** Parses what the server sent: greeting, option replies, transmission replies. */
final class ServerBytes {
    record OptionReply(int option, int type, byte[] data) {
        String text() { return new String(data, StandardCharsets.UTF_8); }
        @Override public String toString() { return Nbd.optName(option) + " -> " + Nbd.repName(type) + " (" + data.length + " bytes)"; }
    }

    /** A simple reply, or one structured chunk. */
    record Reply(boolean structured, int flags, int type, long cookie, int error, byte[] payload) {
        boolean done() { return !structured || (flags & Nbd.REPLY_FLAG_DONE) != 0; }
        @Override public String toString() {
            return structured ? "chunk " + Nbd.replyTypeName(type) + " cookie=" + cookie + " flags=" + flags + " len=" + payload.length
                    : "simple cookie=" + cookie + " error=" + Nbd.errName(error);
        }
    }

    final DataInputStream in;

    ServerBytes(InputStream in) {
        this.in = new DataInputStream(in);
    }

    void greeting() throws IOException {
        assertThat(in.readLong()).as("NBDMAGIC").isEqualTo(Nbd.NBDMAGIC);
        assertThat(in.readLong()).as("IHAVEOPT").isEqualTo(Nbd.IHAVEOPT);
        assertThat(in.readUnsignedShort()).as("handshake flags").isEqualTo(3);
    }

    OptionReply optionReply() throws IOException {
        assertThat(in.readLong()).as("option reply magic").isEqualTo(Nbd.OPTION_REPLY_MAGIC);
        int option = in.readInt();
        int type = in.readInt();
        int length = in.readInt();
        byte[] data = in.readNBytes(length);
        if (data.length != length) throw new EOFException();
        return new OptionReply(option, type, data);
    }

    /** Reads one reply; a successful simple reply to a READ is followed by {@code readLength} bytes, read into payload. */
    Reply reply(int readLength) throws IOException {
        return reply(cookie -> readLength);
    }

    /** Like {@link #reply(int)}, with the READ length looked up by the reply's cookie (replies come in any order). */
    Reply reply(java.util.function.LongToIntFunction readLengthOf) throws IOException {
        int magic = in.readInt();
        if (magic == Nbd.SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long cookie = in.readLong();
            int readLength = readLengthOf.applyAsInt(cookie);
            byte[] data = error == 0 && readLength > 0 ? in.readNBytes(readLength) : new byte[0];
            return new Reply(false, 0, 0, cookie, error, data);
        }
        assertThat(magic).as("reply magic").isEqualTo(Nbd.STRUCTURED_REPLY_MAGIC);
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        int length = in.readInt();
        byte[] payload = in.readNBytes(length);
        if (payload.length != length) throw new EOFException();
        int error = (type & 0x8000) != 0 ? ((payload[0] & 0xff) << 24 | (payload[1] & 0xff) << 16 | (payload[2] & 0xff) << 8 | payload[3] & 0xff) : 0;
        return new Reply(true, flags, type, cookie, error, payload);
    }

    boolean atEof() throws IOException {
        return in.read() < 0;
    }
}
