package dev.cairn.nbd;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The handshake of one connection: greeting, client flags, then the bounded option loop, one method per
 * option (nbdkit's {@code protocol-handshake-newstyle.c}, split up).
 *
 * <p><b>What it keeps true.</b> Every option's payload is read off the wire before anything else happens,
 * including for unknown and refused options, so the stream stays in step. Each option handler validates
 * all lengths before reading a field, and answers with an option reply and {@link #CONTINUE}, or ends
 * the handshake with an {@link Outcome.End} (a desynchronised or hostile stream, or ABORT), never both.
 * An export is opened only at INFO, GO or EXPORT_NAME; one opened for INFO is closed before the next
 * option, one opened for GO/EXPORT_NAME is handed over in {@link Outcome.Transmit} (or closed if the
 * handshake fails after all).
 *
 * <p><b>Threads.</b> Not thread-safe: runs on the connection's reader thread only. The one field other
 * threads touch is the connection's shutdown flag, read through {@link NbdConnection#shuttingDown()}.
 */
final class Negotiation {
    private static final Logger log = LoggerFactory.getLogger(Negotiation.class);

    /** How the handshake ended, if not in transmission; the label is used for metrics. */
    enum Result {
        ABORTED("aborted"), REJECTED("rejected"), FAILED("failed"), SHUTDOWN("shutdown");
        final String label;
        Result(String label) { this.label = label; }
    }

    sealed interface Outcome {
        record Continue() implements Outcome {}
        record Transmit(Negotiated session) implements Outcome {}
        record End(Result result, String reason) implements Outcome {}
    }

    static final Outcome CONTINUE = new Outcome.Continue();
    private static final byte[] ZERO_PAD = new byte[124];

    private final NbdConnection conn;
    private final WireInput in;
    private final WireOutput out;
    private final Set<Integer> disabledOptions;

    // Negotiated so far. All reset by nothing: Cairn has no STARTTLS, the only option that wipes state.
    private boolean fixedNewstyle;
    private boolean noZeroes;
    private boolean structured;
    /** The export name SET_META_CONTEXT selected base:allocation for, or null when nothing is selected. */
    private String metaContextExport;
    private int optionsLeft = Nbd.MAX_OPTIONS;

    Negotiation(NbdConnection conn, WireInput in, WireOutput out, Set<Integer> disabledOptions) {
        this.conn = conn;
        this.in = in;
        this.out = out;
        this.disabledOptions = disabledOptions;
    }

    /** Runs the whole handshake. I/O failures (client gone) surface as IOException. */
    Outcome run() throws IOException {
        ByteBuffer greeting = ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) Nbd.HANDSHAKE_FLAGS).flip();
        out.send(greeting);
        if (!in.ensure(4)) return new Outcome.End(Result.FAILED, "client closed the connection before sending its flags");
        int clientFlags = in.i32();
        if ((clientFlags & ~Nbd.HANDSHAKE_FLAGS) != 0) {
            return new Outcome.End(Result.REJECTED, String.format("unknown client flags 0x%08x", clientFlags));
        }
        fixedNewstyle = (clientFlags & Nbd.FLAG_C_FIXED_NEWSTYLE) != 0;
        noZeroes = (clientFlags & Nbd.FLAG_C_NO_ZEROES) != 0;
        conn.enterOptions();
        for (;;) {
            Outcome outcome = nextOption();
            if (outcome != CONTINUE) return outcome;
        }
    }

    private Outcome nextOption() throws IOException {
        if (!in.ensure(16)) return new Outcome.End(Result.FAILED, "client closed the connection during option haggling");
        long magic = in.i64();
        int option = in.i32();
        long length = Integer.toUnsignedLong(in.i32());
        if (magic != Nbd.IHAVEOPT) {
            return new Outcome.End(Result.REJECTED, String.format("bad option magic 0x%016x", magic));
        }
        if (--optionsLeft < 0) {
            return new Outcome.End(Result.REJECTED, "client sent more than " + Nbd.MAX_OPTIONS + " options without choosing an export");
        }
        if (length > Nbd.MAX_OPTION_BYTES) {
            if (length > Nbd.MAX_OPTION_DRAIN || option == Nbd.OPT_EXPORT_NAME) {
                return new Outcome.End(Result.REJECTED, Nbd.optName(option) + " payload of " + length + " bytes exceeds "
                        + (option == Nbd.OPT_EXPORT_NAME ? Nbd.MAX_STRING : Nbd.MAX_OPTION_DRAIN));
            }
            in.skip(length);
            return replyError(option, Nbd.REP_ERR_TOO_BIG, "option payload of " + length + " bytes exceeds " + Nbd.MAX_OPTION_BYTES);
        }
        ByteBuffer data = ByteBuffer.allocate((int) length);
        in.readFully(data);
        data.flip();
        log.debug("{}: {} with {} bytes", conn, Nbd.optName(option), length);

        if (conn.shuttingDown()) {
            if (option != Nbd.OPT_EXPORT_NAME) quietly(() -> reply(option, Nbd.REP_ERR_SHUTDOWN, "server is shutting down"));
            return new Outcome.End(Result.SHUTDOWN, "server is shutting down");
        }
        if (option != Nbd.OPT_EXPORT_NAME && option != Nbd.OPT_ABORT && !fixedNewstyle) {
            // Like nbdkit: a client that did not promise fixed newstyle gets ERR_INVALID for everything else.
            return replyError(option, Nbd.REP_ERR_INVALID, "client did not set NBD_FLAG_C_FIXED_NEWSTYLE");
        }
        if (disabledOptions.contains(option)) {
            return replyError(option, Nbd.REP_ERR_UNSUP, Nbd.optName(option) + " is disabled on this server");
        }
        return switch (option) {
            case Nbd.OPT_EXPORT_NAME -> onExportName(data);
            case Nbd.OPT_ABORT -> onAbort();
            case Nbd.OPT_LIST -> onList(data);
            case Nbd.OPT_STARTTLS -> onStartTls(data);
            case Nbd.OPT_INFO, Nbd.OPT_GO -> onInfoOrGo(option, data);
            case Nbd.OPT_STRUCTURED_REPLY -> onStructuredReply(data);
            case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> onMetaContext(option, data);
            // EXTENDED_HEADERS is deliberately not offered: on ERR_UNSUP clients fall back to STRUCTURED_REPLY, which Cairn serves.
            default -> replyError(option, Nbd.REP_ERR_UNSUP, Nbd.optName(option) + " is not supported");
        };
    }

    // ---- one method per option --------------------------------------------------------------------------

    /** Old-style export choice: no option reply is possible, so an unknown export can only be a disconnect. */
    private Outcome onExportName(ByteBuffer data) throws IOException {
        if (data.remaining() > Nbd.MAX_STRING) {
            return new Outcome.End(Result.REJECTED, "NBD_OPT_EXPORT_NAME name longer than " + Nbd.MAX_STRING + " bytes");
        }
        String name = Nbd.utf8(data, data.remaining());
        if (name == null) return new Outcome.End(Result.REJECTED, "NBD_OPT_EXPORT_NAME name is not valid UTF-8 or contains NUL");
        Optional<Export> opened = openExport(name);
        if (opened.isEmpty()) {
            return new Outcome.End(Result.REJECTED, "NBD_OPT_EXPORT_NAME for unknown export " + Nbd.quote(name));
        }
        Export export = opened.get();
        try {
            long size = export.volume().size();
            int flags = Negotiated.txFlags(export.volume().readOnly(), structured);
            ByteBuffer reply = ByteBuffer.allocate(10 + (noZeroes ? 0 : ZERO_PAD.length)).putLong(size).putShort((short) flags);
            if (!noZeroes) reply.put(ZERO_PAD);
            out.send(reply.flip());
            return transmit(export, name, size, flags);
        } catch (IOException | RuntimeException e) {
            conn.releaseExport(export);
            throw e;
        }
    }

    private Outcome onAbort() {
        // The client may hang up without reading the ACK (nbdkit only debug-logs this write's failure).
        quietly(() -> reply(Nbd.OPT_ABORT, Nbd.REP_ACK, (ByteBuffer) null));
        return new Outcome.End(Result.ABORTED, "client sent NBD_OPT_ABORT");
    }

    private Outcome onList(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) return replyError(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
        List<ExportInfo> exports;
        try {
            exports = conn.exports().list();
        } catch (RuntimeException e) {
            log.warn("{}: listing exports failed", conn, e);
            return replyError(Nbd.OPT_LIST, Nbd.REP_ERR_INVALID, "listing exports failed");
        }
        int sent = 0;
        for (ExportInfo e : exports) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] description = e.description().getBytes(StandardCharsets.UTF_8);
            if (name.length > Nbd.MAX_STRING) {
                log.warn("{}: not listing export with a {}-byte name", conn, name.length);
                continue;
            }
            int descLength = Math.min(description.length, Nbd.MAX_STRING);
            reply(Nbd.OPT_LIST, Nbd.REP_SERVER, ByteBuffer.allocate(4 + name.length + descLength)
                    .putInt(name.length).put(name).put(description, 0, descLength).flip());
            sent++;
        }
        // qemu-nbd -L follows LIST with INFO and LIST_META_CONTEXT per export: allow for them.
        optionsLeft = (int) Math.min(Integer.MAX_VALUE, optionsLeft + 2L * sent);
        reply(Nbd.OPT_LIST, Nbd.REP_ACK, (ByteBuffer) null);
        return CONTINUE;
    }

    private Outcome onStartTls(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) return replyError(Nbd.OPT_STARTTLS, Nbd.REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
        return replyError(Nbd.OPT_STARTTLS, Nbd.REP_ERR_POLICY, "TLS is not enabled on this server");
    }

    private Outcome onStructuredReply(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            return replyError(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
        }
        if (structured) return replyError(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ERR_INVALID, "structured replies already negotiated");
        structured = true;
        reply(Nbd.OPT_STRUCTURED_REPLY, Nbd.REP_ACK, (ByteBuffer) null);
        return CONTINUE;
    }

    /**
     * INFO and GO share their request layout: {@code u32 name length, name, u16 count, count × u16 info}.
     * The lengths must add up exactly before the name is decoded. NBD_INFO_EXPORT is always sent (qemu
     * never asks for it and fails without it); NAME, DESCRIPTION and BLOCK_SIZE when asked for.
     */
    private Outcome onInfoOrGo(int option, ByteBuffer data) throws IOException {
        String opt = Nbd.optName(option);
        if (data.remaining() < 6) return replyError(option, Nbd.REP_ERR_INVALID, opt + " payload shorter than 6 bytes");
        long nameLength = Integer.toUnsignedLong(data.getInt());
        if (nameLength > data.remaining() - 2) return replyError(option, Nbd.REP_ERR_INVALID, opt + " name length " + nameLength + " exceeds the payload");
        if (nameLength > Nbd.MAX_STRING) return replyError(option, Nbd.REP_ERR_TOO_BIG, opt + " name longer than " + Nbd.MAX_STRING + " bytes");
        String name = Nbd.utf8(data, (int) nameLength);
        if (name == null) return replyError(option, Nbd.REP_ERR_INVALID, opt + " name is not valid UTF-8 or contains NUL");
        int count = Short.toUnsignedInt(data.getShort());
        if (data.remaining() != 2 * count) {
            return replyError(option, Nbd.REP_ERR_INVALID, opt + " has " + count + " info requests but " + data.remaining() + " bytes for them");
        }
        boolean wantName = false, wantDescription = false, wantBlockSize = false;
        for (int i = 0; i < count; i++) {
            switch (Short.toUnsignedInt(data.getShort())) {
                case Nbd.INFO_NAME -> wantName = true;
                case Nbd.INFO_DESCRIPTION -> wantDescription = true;
                case Nbd.INFO_BLOCK_SIZE -> wantBlockSize = true;
                default -> { } // INFO_EXPORT is sent anyway; unknown requests are ignored, as the spec says
            }
        }
        Optional<Export> opened = openExport(name);
        if (opened.isEmpty()) {
            return replyError(option, Nbd.REP_ERR_UNKNOWN, name.isEmpty()
                    ? "this server has no default export; name a disk or snapshot"
                    : "export " + Nbd.quote(name) + " not found");
        }
        Export export = opened.get();
        boolean handedOver = false;
        try {
            long size = export.volume().size();
            int flags = Negotiated.txFlags(export.volume().readOnly(), structured);
            reply(option, Nbd.REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.INFO_EXPORT).putLong(size).putShort((short) flags).flip());
            if (wantName) replyInfoString(option, Nbd.INFO_NAME, export.name());
            if (wantDescription && !export.description().isEmpty()) replyInfoString(option, Nbd.INFO_DESCRIPTION, export.description());
            if (wantBlockSize) {
                reply(option, Nbd.REP_INFO, ByteBuffer.allocate(14).putShort((short) Nbd.INFO_BLOCK_SIZE)
                        .putInt(Nbd.MIN_BLOCK).putInt(Nbd.PREFERRED_BLOCK).putInt(Nbd.MAX_PAYLOAD).flip());
            }
            reply(option, Nbd.REP_ACK, (ByteBuffer) null);
            if (option == Nbd.OPT_INFO) return CONTINUE;
            handedOver = true;
            return transmit(export, name, size, flags);
        } finally {
            if (!handedOver) conn.releaseExport(export);
        }
    }

    /**
     * LIST and SET share the layout {@code u32 name length, name, u32 query count, (u32 length, query)*}.
     * Like nbdkit: SET needs structured replies, replaces the selection even when it fails, and an empty
     * query list selects nothing; LIST with no queries lists everything; unknown namespaces and leaves
     * are ignored, not errors. Each context is answered at most once however often it was asked for.
     */
    private Outcome onMetaContext(int option, ByteBuffer data) throws IOException {
        String opt = Nbd.optName(option);
        boolean set = option == Nbd.OPT_SET_META_CONTEXT;
        if (set) metaContextExport = null;
        if (set && !structured) return replyError(option, Nbd.REP_ERR_INVALID, opt + " needs NBD_OPT_STRUCTURED_REPLY first");
        if (data.remaining() < 8) return replyError(option, Nbd.REP_ERR_INVALID, opt + " payload shorter than 8 bytes");
        long nameLength = Integer.toUnsignedLong(data.getInt());
        if (nameLength > data.remaining() - 4) return replyError(option, Nbd.REP_ERR_INVALID, opt + " name length " + nameLength + " exceeds the payload");
        if (nameLength > Nbd.MAX_STRING) return replyError(option, Nbd.REP_ERR_TOO_BIG, opt + " name longer than " + Nbd.MAX_STRING + " bytes");
        String name = Nbd.utf8(data, (int) nameLength);
        if (name == null) return replyError(option, Nbd.REP_ERR_INVALID, opt + " name is not valid UTF-8 or contains NUL");
        long queries = Integer.toUnsignedLong(data.getInt());
        boolean baseAllocation = !set && queries == 0;
        for (long i = 0; i < queries; i++) {
            if (data.remaining() < 4) return replyError(option, Nbd.REP_ERR_INVALID, opt + " query " + i + " runs past the payload");
            long length = Integer.toUnsignedLong(data.getInt());
            if (length > data.remaining()) return replyError(option, Nbd.REP_ERR_INVALID, opt + " query " + i + " length " + length + " exceeds the payload");
            if (length > Nbd.MAX_STRING) return replyError(option, Nbd.REP_ERR_TOO_BIG, opt + " query longer than " + Nbd.MAX_STRING + " bytes");
            String query = Nbd.utf8(data, (int) length);
            if (query == null) return replyError(option, Nbd.REP_ERR_INVALID, opt + " query is not valid UTF-8 or contains NUL");
            if (query.equals(Nbd.CONTEXT_BASE_ALLOCATION) || (!set && query.equals("base:"))) baseAllocation = true;
        }
        if (data.hasRemaining()) return replyError(option, Nbd.REP_ERR_INVALID, opt + " has " + data.remaining() + " bytes after its queries");
        if (baseAllocation) {
            byte[] context = Nbd.CONTEXT_BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
            int id = set ? Nbd.CONTEXT_ID_BASE_ALLOCATION : 0; // LIST replies carry id 0
            reply(option, Nbd.REP_META_CONTEXT, ByteBuffer.allocate(4 + context.length).putInt(id).put(context).flip());
            if (set) metaContextExport = name;
        }
        reply(option, Nbd.REP_ACK, (ByteBuffer) null);
        return CONTINUE;
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    /** The registry's answer; a registry failure is logged and reads as "no such export". */
    private Optional<Export> openExport(String name) {
        try {
            return conn.openExport(name);
        } catch (IOException | RuntimeException e) {
            log.warn("{}: opening export {} failed", conn, Nbd.quote(name), e);
            return Optional.empty();
        }
    }

    private Outcome transmit(Export export, String requestedName, long size, int flags) {
        // A context selected for another export name is void (nbdkit compares the names the same way).
        boolean baseAllocation = structured && requestedName.equals(metaContextExport);
        log.debug("{}: export {} size {} flags {} structured={} base:allocation={}", conn, Nbd.quote(export.name()), size,
                Nbd.txFlagsName(flags), structured, baseAllocation);
        return new Outcome.Transmit(new Negotiated(export, size, flags, structured, baseAllocation));
    }

    private void replyInfoString(int option, int info, String value) throws IOException {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        int length = Math.min(bytes.length, Nbd.MAX_STRING);
        reply(option, Nbd.REP_INFO, ByteBuffer.allocate(2 + length).putShort((short) info).put(bytes, 0, length).flip());
    }

    private Outcome replyError(int option, int type, String message) throws IOException {
        log.debug("{}: {} -> {}: {}", conn, Nbd.optName(option), Nbd.repName(type), message);
        reply(option, type, message);
        return CONTINUE;
    }

    private void reply(int option, int type, String message) throws IOException {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        reply(option, type, ByteBuffer.wrap(bytes, 0, Math.min(bytes.length, Nbd.MAX_STRING)));
    }

    private void reply(int option, int type, ByteBuffer data) throws IOException {
        int length = data == null ? 0 : data.remaining();
        ByteBuffer header = ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(length).flip();
        if (data == null) out.send(header); else out.send(header, data);
    }

    private interface IoAction { void run() throws IOException; }

    private void quietly(IoAction action) {
        try {
            action.run();
        } catch (IOException e) {
            log.debug("{}: client left before reading the last option reply: {}", conn, e.toString());
        }
    }
}
