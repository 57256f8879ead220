package dev.cairn.nbd;

import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A hand-written NBD client over a real socket, for what no stock tool does (EXPORT_NAME, hostile input). */
final class RawClient implements AutoCloseable {
    final Socket socket;
    final DataOutputStream out;
    final ServerBytes in;

    private RawClient(Socket socket) throws IOException {
        this.socket = socket;
        this.out = new DataOutputStream(socket.getOutputStream());
        this.in = new ServerBytes(socket.getInputStream());
    }

    /** Connects (bounded by a 10 s read timeout so a broken server fails the test instead of hanging it). */
    static RawClient connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return new RawClient(s);
    }

    /** Connects and reads the greeting. */
    static RawClient greeted(int port) throws IOException {
        RawClient c = connect(port);
        c.in.greeting();
        return c;
    }

    RawClient send(WireBytes bytes) throws IOException {
        out.write(bytes.toByteArray());
        out.flush();
        return this;
    }

    RawClient send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** Fixed-newstyle handshake ending in GO; returns the transmission flags. */
    int go(String export, boolean structured, boolean meta) throws IOException {
        return go(export, structured, meta, true);
    }

    /** Like {@link #go(String, boolean, boolean)}, optionally after the client flags were already sent. */
    int go(String export, boolean structured, boolean meta, boolean sendFlags) throws IOException {
        WireBytes w = new WireBytes();
        if (sendFlags) w.clientFlags(3);
        if (structured) w.option(Nbd.OPT_STRUCTURED_REPLY);
        if (meta) w.option(Nbd.OPT_SET_META_CONTEXT, WireBytes.metaData(export, "base:allocation"));
        send(w.option(Nbd.OPT_GO, WireBytes.infoData(export)));
        if (structured) assertThat(in.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        if (meta) untilAck();
        List<ServerBytes.OptionReply> go = untilAck();
        assertThat(go.getLast().type()).as(go.toString()).isEqualTo(Nbd.REP_ACK);
        return java.nio.ByteBuffer.wrap(go.getFirst().data()).getShort(10) & 0xffff;
    }

    List<ServerBytes.OptionReply> untilAck() throws IOException {
        List<ServerBytes.OptionReply> out = new ArrayList<>();
        ServerBytes.OptionReply r;
        do {
            r = in.optionReply();
            out.add(r);
        } while (r.type() != Nbd.REP_ACK && (r.type() & 0x80000000) == 0);
        return out;
    }

    /** True when the server closed the connection (EOF or reset) within the read timeout. */
    boolean closedByServer() {
        try {
            return socket.getInputStream().read() < 0;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // connection reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
