package dev.cairn.nbd;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Builds client-to-server byte streams: client flags, options, requests. For tests and the fuzz test. */
final class WireBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    WireBytes u8(int v) { out.write(v); return this; }
    WireBytes u16(int v) { return put(ByteBuffer.allocate(2).putShort((short) v)); }
    WireBytes u32(int v) { return put(ByteBuffer.allocate(4).putInt(v)); }
    WireBytes u64(long v) { return put(ByteBuffer.allocate(8).putLong(v)); }
    WireBytes bytes(byte[] b) { out.writeBytes(b); return this; }
    WireBytes string(String s) { return bytes(s.getBytes(StandardCharsets.UTF_8)); }

    private WireBytes put(ByteBuffer b) {
        out.writeBytes(b.array());
        return this;
    }

    WireBytes clientFlags(int flags) { return u32(flags); }

    WireBytes option(int option, byte[] data) {
        return u64(Nbd.IHAVEOPT).u32(option).u32(data.length).bytes(data);
    }

    WireBytes option(int option) { return option(option, new byte[0]); }

    /** INFO/GO payload: name and info requests. */
    static byte[] infoData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(6 + n.length + 2 * infos.length).putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) b.putShort((short) i);
        return b.array();
    }

    /** LIST/SET_META_CONTEXT payload. */
    static byte[] metaData(String name, String... queries) {
        WireBytes w = new WireBytes();
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        w.u32(n.length).bytes(n).u32(queries.length);
        for (String q : queries) {
            byte[] qb = q.getBytes(StandardCharsets.UTF_8);
            w.u32(qb.length).bytes(qb);
        }
        return w.toByteArray();
    }

    WireBytes request(int flags, int type, long cookie, long offset, long length) {
        return u32(Nbd.REQUEST_MAGIC).u16(flags).u16(type).u64(cookie).u64(offset).u32((int) length);
    }

    WireBytes write(int flags, long cookie, long offset, byte[] data) {
        return request(flags, Nbd.CMD_WRITE, cookie, offset, data.length).bytes(data);
    }

    WireBytes disc() { return request(0, Nbd.CMD_DISC, 0, 0, 0); }

    byte[] toByteArray() { return out.toByteArray(); }
}
