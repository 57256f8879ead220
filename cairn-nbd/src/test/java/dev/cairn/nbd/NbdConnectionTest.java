package dev.cairn.nbd;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The state machine fed with byte streams, no sockets: handshake rules (§2, §6.1–6.3 of the protocol
 * reference) and request validation (§6.5–6.7), checked byte by byte.
 */
class NbdConnectionTest {
    private static final long SIZE = 1 << 20;
    private final MemoryVolume disk = new MemoryVolume(SIZE);
    private final MemoryVolume snap = new MemoryVolume(SIZE, true);
    private final TestExports exports = new TestExports().add("disk", "a test disk", disk).add("snap", snap);
    private final ConnectionHarness harness = new ConnectionHarness(exports);

    private static WireBytes client() {
        return new WireBytes().clientFlags(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
    }

    // ---- handshake ----------------------------------------------------------------------------------------

    @Test
    void greetingIsFixedNewstyleWithNoZeroes() {
        byte[] out = harness.run(new byte[0]).output();
        assertThat(out).hasSize(18);
        assertThat(ByteBuffer.wrap(out).getLong()).isEqualTo(Nbd.NBDMAGIC);
        assertThat(ByteBuffer.wrap(out).getLong(8)).isEqualTo(Nbd.IHAVEOPT);
        assertThat(ByteBuffer.wrap(out).getShort(16)).isEqualTo((short) 3);
        assertThat(harness.metrics.handshakes("failed")).isEqualTo(1);
    }

    @Test
    void unknownClientFlagsCloseTheConnection() {
        byte[] out = harness.run(new WireBytes().clientFlags(0x4 | 1).option(Nbd.OPT_LIST).toByteArray()).output();
        assertThat(out).hasSize(18); // greeting only, LIST never answered
        assertThat(harness.metrics.handshakes("rejected")).isEqualTo(1);
    }

    @Test
    void badOptionMagicClosesTheConnection() throws IOException {
        byte[] in = client().u64(0x1234).u32(Nbd.OPT_LIST).u32(0).option(Nbd.OPT_LIST).toByteArray();
        ServerBytes s = harness.run(in).parse();
        assertThat(s.atEof()).isTrue();
    }

    @Test
    void unknownOptionIsUnsupportedAndItsDataConsumed() throws IOException {
        byte[] in = client().option(99, "some data the server must skip".getBytes()).option(Nbd.OPT_PEEK_EXPORT)
                .option(Nbd.OPT_EXTENDED_HEADERS).option(Nbd.OPT_LIST).option(Nbd.OPT_ABORT).toByteArray();
        ServerBytes s = harness.run(in).parse();
        assertThat(s.optionReply()).extracting(ServerBytes.OptionReply::option, ServerBytes.OptionReply::type).containsExactly(99, Nbd.REP_ERR_UNSUP);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_UNSUP);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_UNSUP);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_SERVER);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_SERVER);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        ServerBytes.OptionReply abort = s.optionReply();
        assertThat(abort.option()).isEqualTo(Nbd.OPT_ABORT);
        assertThat(abort.type()).isEqualTo(Nbd.REP_ACK);
        assertThat(s.atEof()).isTrue();
        assertThat(harness.metrics.handshakes("aborted")).isEqualTo(1);
    }

    @Test
    void listNamesEveryExportWithItsDescription() throws IOException {
        ServerBytes s = harness.run(client().option(Nbd.OPT_LIST).option(Nbd.OPT_LIST, new byte[1]).toByteArray()).parse();
        ServerBytes.OptionReply first = s.optionReply();
        ByteBuffer b = ByteBuffer.wrap(first.data());
        int len = b.getInt();
        assertThat(new String(first.data(), 4, len, StandardCharsets.UTF_8)).isEqualTo("disk");
        assertThat(new String(first.data(), 4 + len, first.data().length - 4 - len, StandardCharsets.UTF_8)).isEqualTo("a test disk");
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_SERVER);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        assertThat(s.optionReply().type()).as("LIST with data").isEqualTo(Nbd.REP_ERR_INVALID);
    }

    @Test
    void optionCountIsCapped() throws IOException {
        WireBytes w = client();
        for (int i = 0; i < 40; i++) w.option(Nbd.OPT_STRUCTURED_REPLY);
        ServerBytes s = harness.run(w.toByteArray()).parse();
        int replies = 0;
        while (s.in.available() > 0) {
            s.optionReply();
            replies++;
        }
        assertThat(replies).isEqualTo(Nbd.MAX_OPTIONS);
        assertThat(harness.metrics.handshakes("rejected")).isEqualTo(1);
    }

    @Test
    void oversizedOptionIsDrainedAndRefusedThenHugeOneDisconnects() throws IOException {
        byte[] big = new byte[Nbd.MAX_OPTION_BYTES + 1];
        byte[] in = client().option(Nbd.OPT_LIST, big).option(Nbd.OPT_LIST)
                .u64(Nbd.IHAVEOPT).u32(Nbd.OPT_INFO).u32(Nbd.MAX_OPTION_DRAIN + 1).toByteArray();
        ServerBytes s = harness.run(in).parse();
        ServerBytes.OptionReply tooBig = s.optionReply();
        assertThat(tooBig.type()).isEqualTo(Nbd.REP_ERR_TOO_BIG);
        assertThat(tooBig.text()).contains("exceeds");
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_SERVER); // stream still in step
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_SERVER);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        assertThat(s.atEof()).isTrue();
    }

    @Test
    void malformedInfoAndGoAreInvalidAndTheLoopContinues() throws IOException {
        byte[] nameTooLong = ByteBuffer.allocate(8).putInt(100).putShort((short) 0).array();
        byte[] countMismatch = ByteBuffer.allocate(9).putInt(0).putShort((short) 2).put(new byte[3]).array();
        byte[] nul = WireBytes.infoData("di\0sk");
        byte[] badUtf8 = ByteBuffer.allocate(8).putInt(2).put((byte) 0xc3).put((byte) 0x28).putShort((short) 0).array();
        byte[] in = client().option(Nbd.OPT_GO, new byte[5]).option(Nbd.OPT_GO, nameTooLong).option(Nbd.OPT_INFO, countMismatch)
                .option(Nbd.OPT_GO, nul).option(Nbd.OPT_GO, badUtf8).option(Nbd.OPT_ABORT).toByteArray();
        ServerBytes s = harness.run(in).parse();
        for (int i = 0; i < 5; i++) assertThat(s.optionReply().type()).as("reply " + i).isEqualTo(Nbd.REP_ERR_INVALID);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        assertThat(exports.opened.get()).isZero();
    }

    @Test
    void goForUnknownExportIsErrUnknownWithAMessage() throws IOException {
        ServerBytes s = harness.run(client().option(Nbd.OPT_GO, WireBytes.infoData("nope")).option(Nbd.OPT_GO, WireBytes.infoData(""))
                .toByteArray()).parse();
        ServerBytes.OptionReply r = s.optionReply();
        assertThat(r.type()).isEqualTo(Nbd.REP_ERR_UNKNOWN);
        assertThat(r.text()).contains("'nope'");
        assertThat(s.optionReply().text()).contains("no default export");
    }

    @Test
    void infoThenGoReturnTheSameDataAndExportInfoIsAlwaysSent() throws IOException {
        byte[] info = WireBytes.infoData("disk", Nbd.INFO_NAME, Nbd.INFO_DESCRIPTION, Nbd.INFO_BLOCK_SIZE, 77);
        ServerBytes s = harness.run(client().option(Nbd.OPT_INFO, info).option(Nbd.OPT_GO, info).disc().toByteArray()).parse();
        List<ServerBytes.OptionReply> infoReplies = readUntilAck(s);
        List<ServerBytes.OptionReply> goReplies = readUntilAck(s);
        assertThat(infoReplies).hasSize(5);
        for (int i = 0; i < infoReplies.size(); i++) {
            assertThat(goReplies.get(i).data()).isEqualTo(infoReplies.get(i).data());
            assertThat(goReplies.get(i).option()).isEqualTo(Nbd.OPT_GO);
        }
        ByteBuffer export = ByteBuffer.wrap(infoReplies.get(0).data());
        assertThat(export.getShort()).isEqualTo((short) Nbd.INFO_EXPORT);
        assertThat(export.getLong()).isEqualTo(SIZE);
        assertThat(export.getShort() & 0xffff).isEqualTo(0x0D6D);
        assertThat(new String(infoReplies.get(1).data(), 2, 4, StandardCharsets.UTF_8)).isEqualTo("disk");
        assertThat(new String(infoReplies.get(2).data(), 2, infoReplies.get(2).data().length - 2, StandardCharsets.UTF_8)).isEqualTo("a test disk");
        ByteBuffer bs = ByteBuffer.wrap(infoReplies.get(3).data());
        assertThat(bs.getShort()).isEqualTo((short) Nbd.INFO_BLOCK_SIZE);
        assertThat(new int[] {bs.getInt(), bs.getInt(), bs.getInt()}).containsExactly(1, 4096, 32 << 20);
        assertThat(infoReplies.get(4).type()).isEqualTo(Nbd.REP_ACK);
        assertThat(s.atEof()).isTrue();
        assertThat(exports.opened.get()).isEqualTo(2);
        assertThat(harness.metrics.handshakes("ok")).isEqualTo(1);
    }

    @Test
    void goWithoutInfoRequestsStillSendsExportInfo() throws IOException {
        ServerBytes s = harness.run(client().option(Nbd.OPT_GO, WireBytes.infoData("disk")).toByteArray()).parse();
        List<ServerBytes.OptionReply> replies = readUntilAck(s);
        assertThat(replies).extracting(ServerBytes.OptionReply::type).containsExactly(Nbd.REP_INFO, Nbd.REP_ACK);
        assertThat(replies.get(0).data()).hasSize(12);
    }

    @Test
    void transmissionFlagsFollowReadOnlyAndStructuredReplies() throws IOException {
        assertThat(goFlags("disk", false)).isEqualTo(0x0D6D);
        assertThat(goFlags("disk", true)).isEqualTo(0x0DED);
        assertThat(goFlags("snap", false)).isEqualTo(0x0507);
        assertThat(goFlags("snap", true)).isEqualTo(0x0587);
    }

    private int goFlags(String name, boolean structured) throws IOException {
        WireBytes w = client();
        if (structured) w.option(Nbd.OPT_STRUCTURED_REPLY);
        ServerBytes s = new ConnectionHarness(exports).run(w.option(Nbd.OPT_GO, WireBytes.infoData(name)).toByteArray()).parse();
        if (structured) assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        ByteBuffer b = ByteBuffer.wrap(s.optionReply().data());
        return b.getShort(10) & 0xffff;
    }

    @Test
    void structuredReplyRulesAndStartTls() throws IOException {
        ServerBytes s = harness.run(client().option(Nbd.OPT_STRUCTURED_REPLY, new byte[] {1}).option(Nbd.OPT_STRUCTURED_REPLY)
                .option(Nbd.OPT_STRUCTURED_REPLY).option(Nbd.OPT_STARTTLS).option(Nbd.OPT_STARTTLS, new byte[2]).toByteArray()).parse();
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
        ServerBytes.OptionReply tls = s.optionReply();
        assertThat(tls.type()).isEqualTo(Nbd.REP_ERR_POLICY);
        assertThat(tls.text()).contains("TLS");
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
    }

    @Test
    void metaContextListAndSet() throws IOException {
        byte[] in = client()
                .option(Nbd.OPT_SET_META_CONTEXT, WireBytes.metaData("disk", "base:allocation"))   // before structured: invalid
                .option(Nbd.OPT_LIST_META_CONTEXT, WireBytes.metaData("disk"))                      // all contexts
                .option(Nbd.OPT_LIST_META_CONTEXT, WireBytes.metaData("disk", "base:", "qemu:dirty-bitmap:x", "base:allocation"))
                .option(Nbd.OPT_LIST_META_CONTEXT, WireBytes.metaData("disk", "other:thing"))
                .option(Nbd.OPT_LIST_META_CONTEXT, Arrays.copyOf(WireBytes.metaData("disk", "base:allocation"), 30)) // truncated
                .option(Nbd.OPT_STRUCTURED_REPLY)
                .option(Nbd.OPT_SET_META_CONTEXT, WireBytes.metaData("disk", "nope:x", "base:allocation"))
                .option(Nbd.OPT_ABORT).toByteArray();
        ServerBytes s = harness.run(in).parse();
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
        assertThat(readUntilAck(s)).extracting(ServerBytes.OptionReply::type).containsExactly(Nbd.REP_META_CONTEXT, Nbd.REP_ACK);
        List<ServerBytes.OptionReply> listed = readUntilAck(s);
        assertThat(listed).hasSize(2); // base:allocation once, however often it matched
        assertThat(ByteBuffer.wrap(listed.get(0).data()).getInt()).isZero();
        assertThat(new String(listed.get(0).data(), 4, listed.get(0).data().length - 4, StandardCharsets.US_ASCII)).isEqualTo("base:allocation");
        assertThat(readUntilAck(s)).hasSize(1); // unknown namespace: nothing, not an error
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ACK);
        List<ServerBytes.OptionReply> set = readUntilAck(s);
        assertThat(set).hasSize(2);
        assertThat(ByteBuffer.wrap(set.get(0).data()).getInt()).isEqualTo(Nbd.CONTEXT_ID_BASE_ALLOCATION);
    }

    @Test
    void clientWithoutFixedNewstyleGetsInvalidButMayUseExportName() throws IOException {
        byte[] in = new WireBytes().clientFlags(0).option(Nbd.OPT_LIST).option(Nbd.OPT_EXPORT_NAME, "disk".getBytes())
                .request(0, Nbd.CMD_READ, 7, 0, 512).disc().toByteArray();
        ServerBytes s = harness.run(in).parse();
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_INVALID);
        assertThat(s.in.readLong()).isEqualTo(SIZE);
        assertThat(s.in.readUnsignedShort()).isEqualTo(0x0D6D);
        assertThat(s.in.readNBytes(124)).containsOnly(0); // zeroes: the client did not set NO_ZEROES
        ServerBytes.Reply r = s.reply(512);
        assertThat(r.cookie()).isEqualTo(7);
        assertThat(r.payload()).hasSize(512);
        assertThat(s.atEof()).isTrue();
    }

    @Test
    void exportNameForUnknownExportHangsUp() throws IOException {
        ServerBytes s = harness.run(client().option(Nbd.OPT_EXPORT_NAME, "nope".getBytes()).toByteArray()).parse();
        assertThat(s.atEof()).isTrue();
        assertThat(harness.metrics.handshakes("rejected")).isEqualTo(1);
    }

    @Test
    void disabledGoIsUnsupportedSoClientsFallBackToExportName() throws IOException {
        harness.disabledOptions = Set.of(Nbd.OPT_GO);
        ServerBytes s = harness.run(client().option(Nbd.OPT_GO, WireBytes.infoData("disk")).option(Nbd.OPT_EXPORT_NAME, "disk".getBytes())
                .disc().toByteArray()).parse();
        assertThat(s.optionReply().type()).isEqualTo(Nbd.REP_ERR_UNSUP);
        assertThat(s.in.readLong()).isEqualTo(SIZE);
        assertThat(s.in.readUnsignedShort()).isEqualTo(0x0D6D);
        assertThat(s.atEof()).isTrue(); // NO_ZEROES: nothing after the flags
    }

    // ---- transmission -------------------------------------------------------------------------------------

    private WireBytes go(String name, boolean structured, boolean meta) {
        WireBytes w = client();
        if (structured) w.option(Nbd.OPT_STRUCTURED_REPLY);
        if (meta) w.option(Nbd.OPT_SET_META_CONTEXT, WireBytes.metaData(name, "base:allocation"));
        return w.option(Nbd.OPT_GO, WireBytes.infoData(name));
    }

    private static ServerBytes skipHandshake(ServerBytes s, boolean structured, boolean meta) throws IOException {
        if (structured) s.optionReply();
        if (meta) readUntilAck(s);
        readUntilAck(s);
        return s;
    }

    private Map<Long, List<ServerBytes.Reply>> transmit(String name, boolean structured, boolean meta, WireBytes requests,
                                                         Map<Long, Integer> readLengths) throws IOException {
        WireBytes w = go(name, structured, meta).bytes(requests.toByteArray());
        ServerBytes s = skipHandshake(harness.run(w.toByteArray()).parse(), structured, meta);
        return ConnectionHarness.replies(s, readLengths);
    }

    private static int error(Map<Long, List<ServerBytes.Reply>> replies, long cookie) {
        List<ServerBytes.Reply> r = replies.get(cookie);
        assertThat(r).as("replies to cookie " + cookie).isNotNull().hasSize(1);
        return r.getFirst().error();
    }

    @Test
    void requestValidationSimpleReplies() throws IOException {
        WireBytes rq = new WireBytes()
                .request(0, Nbd.CMD_READ, 1, SIZE - 512, 1024)                    // past the end: EINVAL
                .write(0, 2, SIZE - 512, new byte[1024])                          // past the end: ENOSPC, payload skipped
                .request(0, Nbd.CMD_WRITE_ZEROES, 3, SIZE, 1)                     // ENOSPC
                .request(0, Nbd.CMD_TRIM, 4, -512, 1024)                          // offset ≥ 2^63: EINVAL
                .request(0, Nbd.CMD_FLUSH, 5, 1, 0)                               // EINVAL
                .request(0, 42, 6, 0, 0)                                          // unknown command
                .request(0, Nbd.CMD_RESIZE, 7, 0, 0)                              // EINVAL
                .request(0x40, Nbd.CMD_READ, 8, 0, 512)                           // unknown flag
                .request(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_READ, 9, 0, 512)           // flag on wrong command
                .request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 10, 0, 512)               // DF without structured
                .request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_READ, 11, 0, 512)
                .request(0, Nbd.CMD_BLOCK_STATUS, 12, 0, 512)                     // no context
                .request(0, Nbd.CMD_READ, 13, 0, (48 << 20))                      // > max payload
                .request(0, Nbd.CMD_READ, 14, 0, 0)                               // zero length: fine
                .request(Nbd.CMD_FLAG_FUA, Nbd.CMD_FLUSH, 15, 0, 0)               // FUA accepted on any command
                .write(Nbd.CMD_FLAG_FUA, 16, 4096, "hello".getBytes())            // still in step
                .disc();
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", false, false, rq, Map.of());
        assertThat(error(r, 1)).isEqualTo(Nbd.EINVAL);
        assertThat(error(r, 2)).isEqualTo(Nbd.ENOSPC);
        assertThat(error(r, 3)).isEqualTo(Nbd.ENOSPC);
        assertThat(error(r, 4)).isEqualTo(Nbd.EINVAL);
        assertThat(error(r, 5)).isEqualTo(Nbd.EINVAL);
        assertThat(error(r, 6)).isEqualTo(Nbd.EINVAL);
        assertThat(error(r, 7)).isEqualTo(Nbd.EINVAL);
        for (long c = 8; c <= 13; c++) assertThat(error(r, c)).as("cookie " + c).isEqualTo(Nbd.EINVAL);
        assertThat(error(r, 14)).isZero();
        assertThat(error(r, 15)).isZero();
        assertThat(error(r, 16)).isZero();
        assertThat(disk.bytes(4096, 5)).isEqualTo("hello".getBytes());
        assertThat(disk.fuaCalls.get()).isEqualTo(1);
        assertThat(r).hasSize(16);
        assertThat(harness.metrics.requests("read", "EINVAL")).isEqualTo(6);
        assertThat(harness.metrics.requests("write", "ENOSPC")).isEqualTo(1);
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm() throws IOException {
        WireBytes rq = new WireBytes().write(0, 1, 0, new byte[512]).request(0, Nbd.CMD_TRIM, 2, 0, 512)
                .request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 512).request(Nbd.CMD_FLAG_FUA, Nbd.CMD_READ, 4, 0, 512)
                .request(0, Nbd.CMD_FLUSH, 5, 0, 0).request(0, Nbd.CMD_CACHE, 6, 0, 4096).disc();
        Map<Long, List<ServerBytes.Reply>> r = transmit("snap", false, false, rq, Map.of());
        assertThat(error(r, 1)).isEqualTo(Nbd.EPERM);
        assertThat(error(r, 2)).isEqualTo(Nbd.EPERM);
        assertThat(error(r, 3)).isEqualTo(Nbd.EPERM);
        assertThat(error(r, 4)).as("FUA not advertised on a read-only export").isEqualTo(Nbd.EINVAL);
        assertThat(error(r, 5)).isZero();
        assertThat(error(r, 6)).isZero();
        assertThat(snap.prefetches.get()).isEqualTo(1);
    }

    @Test
    void structuredReadSendsDataAndHoleChunksAndDfSendsOneDataChunk() throws IOException {
        disk.write(8192, ByteBuffer.wrap(filled(4096, 7)), false); // pages: [hole, hole, data, hole...]
        WireBytes rq = new WireBytes().request(0, Nbd.CMD_READ, 1, 0, 16384).request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 2, 0, 16384)
                .request(0, Nbd.CMD_READ, 3, SIZE, 512).request(0, Nbd.CMD_READ, 4, 0, 0).disc();
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", true, false, rq, Map.of());

        List<ServerBytes.Reply> read = r.get(1L);
        assertThat(read).extracting(ServerBytes.Reply::type).containsExactly(Nbd.REPLY_TYPE_OFFSET_HOLE, Nbd.REPLY_TYPE_OFFSET_DATA,
                Nbd.REPLY_TYPE_OFFSET_HOLE);
        assertThat(read).extracting(ServerBytes.Reply::done).containsExactly(false, false, true);
        ByteBuffer hole = ByteBuffer.wrap(read.get(0).payload());
        assertThat(hole.getLong()).isZero();
        assertThat(hole.getInt()).isEqualTo(8192);
        ByteBuffer data = ByteBuffer.wrap(read.get(1).payload());
        assertThat(data.getLong()).isEqualTo(8192);
        assertThat(Arrays.copyOfRange(read.get(1).payload(), 8, read.get(1).payload().length)).isEqualTo(filled(4096, 7));

        List<ServerBytes.Reply> df = r.get(2L);
        assertThat(df).hasSize(1);
        assertThat(df.getFirst().type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
        assertThat(df.getFirst().done()).isTrue();
        assertThat(df.getFirst().payload()).hasSize(8 + 16384);

        List<ServerBytes.Reply> bad = r.get(3L);
        assertThat(bad).hasSize(1);
        assertThat(bad.getFirst().type()).as("a READ error is a structured ERROR chunk").isEqualTo(Nbd.REPLY_TYPE_ERROR);
        assertThat(bad.getFirst().error()).isEqualTo(Nbd.EINVAL);
        assertThat(bad.getFirst().done()).isTrue();

        assertThat(r.get(4L)).extracting(ServerBytes.Reply::type).containsExactly(Nbd.REPLY_TYPE_NONE);
    }

    @Test
    void blockStatusReportsHolesAndDataWithAndWithoutReqOne() throws IOException {
        disk.write(8192, ByteBuffer.wrap(filled(8192, 1)), false);
        WireBytes rq = new WireBytes().request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 32768)
                .request(Nbd.CMD_FLAG_REQ_ONE, Nbd.CMD_BLOCK_STATUS, 2, 4096, 32768)
                .request(0, Nbd.CMD_BLOCK_STATUS, 3, SIZE - 4096, 4096)
                .request(0, Nbd.CMD_BLOCK_STATUS, 4, 0, 0).disc();
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", true, true, rq, Map.of());
        assertThat(extents(r.get(1L))).containsExactly(8192, 3, 8192, 0, 16384, 3);
        assertThat(extents(r.get(2L))).containsExactly(4096, 3);
        assertThat(extents(r.get(3L))).containsExactly(4096, 3);
        assertThat(r.get(4L).getFirst().error()).isEqualTo(Nbd.EINVAL);
    }

    private static int[] extents(List<ServerBytes.Reply> replies) {
        assertThat(replies).hasSize(1);
        ServerBytes.Reply chunk = replies.getFirst();
        assertThat(chunk.type()).isEqualTo(Nbd.REPLY_TYPE_BLOCK_STATUS);
        assertThat(chunk.done()).isTrue();
        ByteBuffer b = ByteBuffer.wrap(chunk.payload());
        assertThat(b.getInt()).isEqualTo(Nbd.CONTEXT_ID_BASE_ALLOCATION);
        int[] out = new int[b.remaining() / 4];
        for (int i = 0; i < out.length; i++) out[i] = b.getInt();
        return out;
    }

    @Test
    void contextSelectedForAnotherExportIsVoid() throws IOException {
        WireBytes w = client().option(Nbd.OPT_STRUCTURED_REPLY).option(Nbd.OPT_SET_META_CONTEXT, WireBytes.metaData("snap", "base:allocation"))
                .option(Nbd.OPT_GO, WireBytes.infoData("disk")).request(0, Nbd.CMD_BLOCK_STATUS, 1, 0, 4096).disc();
        ServerBytes s = skipHandshake(harness.run(w.toByteArray()).parse(), true, true);
        assertThat(ConnectionHarness.replies(s, Map.of()).get(1L).getFirst().error()).isEqualTo(Nbd.EINVAL);
    }

    @Test
    void zeroesTrimFastZeroAndCache() throws IOException {
        disk.write(0, ByteBuffer.wrap(filled(16384, 9)), false);
        disk.fastZero = false;
        WireBytes rq = new WireBytes()
                .request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 1, 0, 4096)         // not fast: ENOTSUP, nothing changes
                .request(Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_WRITE_ZEROES, 2, 4096, 4096)
                .request(Nbd.CMD_FLAG_FUA, Nbd.CMD_TRIM, 3, 8192, 4096)
                .request(0, Nbd.CMD_CACHE, 4, 0, SIZE)
                .request(Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_TRIM, 5, 0, 4096) // flags on wrong command
                .disc();
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", false, false, rq, Map.of());
        assertThat(error(r, 1)).isEqualTo(Nbd.ENOTSUP);
        assertThat(error(r, 2)).isZero();
        assertThat(error(r, 3)).isZero();
        assertThat(error(r, 4)).isZero();
        assertThat(error(r, 5)).isEqualTo(Nbd.EINVAL);
        assertThat(disk.bytes(0, 4096)).isEqualTo(filled(4096, 9));
        assertThat(disk.bytes(4096, 8192)).containsOnly(0);
        assertThat(disk.bytes(12288, 4096)).isEqualTo(filled(4096, 9));
        assertThat(disk.extents(4096, 4096).getFirst().hole()).as("NO_HOLE keeps it allocated").isFalse();
        assertThat(disk.extents(8192, 4096).getFirst().hole()).isTrue();
        assertThat(disk.prefetches.get()).isEqualTo(1);
    }

    @Test
    void volumeFailuresMapToNbdErrors() throws IOException {
        disk.failAt = off -> off >= 65536;
        WireBytes rq = new WireBytes().request(0, Nbd.CMD_READ, 1, 65536, 512).request(0, Nbd.CMD_READ, 2, 0, 512).disc();
        disk.failure = new IOException("Input/output error");
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", false, false, rq, Map.of(2L, 512));
        ServerBytes.Reply failed = r.get(1L).getFirst();
        assertThat(failed.error()).isEqualTo(Nbd.EIO);
        assertThat(failed.payload()).as("no data after a failed simple read").isEmpty();
        assertThat(r.get(2L).getFirst().payload()).hasSize(512); // the stream is still in step

        disk.failure = new dev.cairn.volume.VolumeFullException("No space left on device", null);
        r = transmit("disk", true, false, new WireBytes().write(0, 3, 65536, new byte[512]).disc(), Map.of());
        assertThat(error(r, 3)).isEqualTo(Nbd.ENOSPC);
        assertThat(r.get(3L).getFirst().type()).as("errors carry a message when structured").isEqualTo(Nbd.REPLY_TYPE_ERROR);
    }

    @Test
    void errorClassification() {
        assertThat(NbdErrors.classify(new dev.cairn.volume.ReadOnlyVolumeException("x"))).isEqualTo(Nbd.EPERM);
        assertThat(NbdErrors.classify(new IllegalArgumentException("range"))).isEqualTo(Nbd.EINVAL);
        assertThat(NbdErrors.classify(new dev.cairn.volume.VolumeFullException("No space left on device", null))).isEqualTo(Nbd.ENOSPC);
        assertThat(NbdErrors.classify(new IOException("Input/output error"))).isEqualTo(Nbd.EIO);
        assertThat(NbdErrors.classify(new RuntimeException("bug"))).isEqualTo(Nbd.EIO);
    }

    @Test
    void oversizedRefusedWriteIsSkippedUpToTheDrainLimitElseDisconnects() throws IOException {
        byte[] big = new byte[(32 << 20) + 4096];
        WireBytes rq = new WireBytes().write(0, 1, 0, big).request(0, Nbd.CMD_READ, 2, 0, 512)
                .request(0, Nbd.CMD_WRITE, 3, 0, Nbd.MAX_WRITE_DRAIN + 1).request(0, Nbd.CMD_READ, 4, 0, 512);
        exports.add("big", new MemoryVolume(128 << 20));
        Map<Long, List<ServerBytes.Reply>> r = transmit("big", false, false, rq, Map.of(2L, 512));
        assertThat(error(r, 1)).as("larger than the maximum payload").isEqualTo(Nbd.EINVAL);
        assertThat(r.get(2L).getFirst().error()).isZero();
        assertThat(r).doesNotContainKeys(3L, 4L);
    }

    @Test
    void endOfStreamWithoutDiscFinishesInFlightRequests() throws IOException {
        WireBytes rq = new WireBytes();
        for (int i = 0; i < 50; i++) rq.write(0, i, i * 4096L, filled(4096, i));
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", false, false, rq, Map.of());
        assertThat(r).hasSize(50);
        for (int i = 0; i < 50; i++) assertThat(disk.bytes(i * 4096L, 4096)).isEqualTo(filled(4096, i));
    }

    @Test
    void badRequestMagicDisconnects() throws IOException {
        WireBytes rq = new WireBytes().u32(0x12345678).u16(0).u16(0).u64(1).u64(0).u32(512).request(0, Nbd.CMD_READ, 2, 0, 512);
        Map<Long, List<ServerBytes.Reply>> r = transmit("disk", false, false, rq, Map.of());
        assertThat(r).isEmpty();
    }

    static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static List<ServerBytes.OptionReply> readUntilAck(ServerBytes s) throws IOException {
        List<ServerBytes.OptionReply> out = new java.util.ArrayList<>();
        ServerBytes.OptionReply r;
        do {
            r = s.optionReply();
            out.add(r);
        } while (r.type() != Nbd.REP_ACK && (r.type() & 0x80000000) == 0);
        return out;
    }
}
