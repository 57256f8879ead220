package dev.cairn.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.StringJoiner;

/**
 * NBD wire constants, the server's limits, and a printable name for every number, so log lines say
 * {@code NBD_OPT_GO} rather than {@code 7} (like nbdkit's {@code protostrings.h}).
 *
 * <p>Values come from the upstream spec ({@code doc/proto.md}); see {@code docs/nbd.md} for what Cairn
 * serves. Stateless and thread-safe.
 */
public final class Nbd {
    private Nbd() {}

    // ---- magic numbers ------------------------------------------------------------------------------
    public static final long NBDMAGIC = 0x4e42444d41474943L;              // "NBDMAGIC"
    public static final long IHAVEOPT = 0x49484156454F5054L;              // "IHAVEOPT"
    public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int EXTENDED_REQUEST_MAGIC = 0x21e41c71;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // ---- handshake flags (server, u16) and client flags (u32) ---------------------------------------
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 1 << 1;
    /** What Cairn offers in the greeting: fixed newstyle, may omit the 124 zero bytes. */
    public static final int HANDSHAKE_FLAGS = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;
    public static final int FLAG_C_FIXED_NEWSTYLE = 1;
    public static final int FLAG_C_NO_ZEROES = 1 << 1;

    // ---- options ------------------------------------------------------------------------------------
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_PEEK_EXPORT = 4;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;
    public static final int OPT_EXTENDED_HEADERS = 11;

    // ---- option reply types -------------------------------------------------------------------------
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_ERR_UNSUP = 0x80000001;
    public static final int REP_ERR_POLICY = 0x80000002;
    public static final int REP_ERR_INVALID = 0x80000003;
    public static final int REP_ERR_PLATFORM = 0x80000004;
    public static final int REP_ERR_TLS_REQD = 0x80000005;
    public static final int REP_ERR_UNKNOWN = 0x80000006;
    public static final int REP_ERR_SHUTDOWN = 0x80000007;
    public static final int REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
    public static final int REP_ERR_TOO_BIG = 0x80000009;
    public static final int REP_ERR_EXT_HEADER_REQD = 0x8000000a;

    // ---- NBD_INFO_* ---------------------------------------------------------------------------------
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // ---- transmission flags (u16) -------------------------------------------------------------------
    public static final int TX_HAS_FLAGS = 1;
    public static final int TX_READ_ONLY = 1 << 1;
    public static final int TX_SEND_FLUSH = 1 << 2;
    public static final int TX_SEND_FUA = 1 << 3;
    public static final int TX_ROTATIONAL = 1 << 4;
    public static final int TX_SEND_TRIM = 1 << 5;
    public static final int TX_SEND_WRITE_ZEROES = 1 << 6;
    public static final int TX_SEND_DF = 1 << 7;
    public static final int TX_CAN_MULTI_CONN = 1 << 8;
    public static final int TX_SEND_RESIZE = 1 << 9;
    public static final int TX_SEND_CACHE = 1 << 10;
    public static final int TX_SEND_FAST_ZERO = 1 << 11;
    public static final int TX_BLOCK_STATUS_PAYLOAD = 1 << 12;
    private static final String[] TX_FLAG_NAMES = {"HAS_FLAGS", "READ_ONLY", "SEND_FLUSH", "SEND_FUA", "ROTATIONAL",
            "SEND_TRIM", "SEND_WRITE_ZEROES", "SEND_DF", "CAN_MULTI_CONN", "SEND_RESIZE", "SEND_CACHE",
            "SEND_FAST_ZERO", "BLOCK_STATUS_PAYLOAD"};

    // ---- commands -----------------------------------------------------------------------------------
    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;
    public static final int CMD_RESIZE = 8;
    /** Number of known command types; metrics index arrays by command and use this slot for "unknown". */
    static final int CMD_COUNT = 9;

    // ---- command flags (u16) ------------------------------------------------------------------------
    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;
    public static final int CMD_FLAG_PAYLOAD_LEN = 1 << 5;
    private static final String[] CMD_FLAG_NAMES = {"FUA", "NO_HOLE", "DF", "REQ_ONE", "FAST_ZERO", "PAYLOAD_LEN"};

    // ---- structured reply chunks --------------------------------------------------------------------
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    public static final int REPLY_TYPE_ERROR = 0x8001;
    public static final int REPLY_TYPE_ERROR_OFFSET = 0x8002;

    // ---- errors (the only values that go on the wire) -----------------------------------------------
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    // ---- base:allocation ----------------------------------------------------------------------------
    public static final String CONTEXT_BASE_ALLOCATION = "base:allocation";
    /** The id Cairn gives {@code base:allocation} in SET_META_CONTEXT replies (ids are per connection). */
    public static final int CONTEXT_ID_BASE_ALLOCATION = 1;
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 2;

    // ---- limits, each with its reason ---------------------------------------------------------------
    /** Strings on the wire (export names, queries, messages): the spec's hard MUST. */
    public static final int MAX_STRING = 4096;
    /**
     * Largest option payload read into memory. The largest legitimate option (SET_META_CONTEXT with a
     * few 4 KiB queries) is far below it; anything above is answered ERR_TOO_BIG after draining.
     */
    public static final int MAX_OPTION_BYTES = 64 * 1024;
    /** Above this an option's payload is not even drained: the connection is dropped (nbdkit: 64 MiB). */
    public static final int MAX_OPTION_DRAIN = 1 << 20;
    /**
     * Options allowed before an export is chosen (nbdkit: 32). Each NBD_OPT_LIST answer adds two per
     * export listed, because {@code qemu-nbd -L} follows LIST with INFO and LIST_META_CONTEXT per export.
     */
    public static final int MAX_OPTIONS = 32;
    /** Block sizes advertised in NBD_INFO_BLOCK_SIZE: any alignment works, 4 KiB is best, 32 MiB is the cap. */
    public static final int MIN_BLOCK = 1;
    public static final int PREFERRED_BLOCK = 4096;
    /** Largest READ/WRITE payload (qemu's own cap). Larger ones are refused with EINVAL. */
    public static final int MAX_PAYLOAD = 32 << 20;
    /**
     * A refused WRITE's payload is read and dropped up to this size so the stream stays in step
     * (nbdkit skips up to twice its limit); a larger one cannot be legitimate and the connection drops.
     */
    public static final long MAX_WRITE_DRAIN = 2L * MAX_PAYLOAD;
    /** Extents per BLOCK_STATUS reply chunk (spec: SHOULD NOT exceed 2^20; 64 Ki keep the chunk at 512 KiB). */
    public static final int MAX_EXTENTS = 1 << 16;

    // ---- printable names ----------------------------------------------------------------------------

    public static String optName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT -> "NBD_OPT_ABORT";
            case OPT_LIST -> "NBD_OPT_LIST";
            case OPT_PEEK_EXPORT -> "NBD_OPT_PEEK_EXPORT";
            case OPT_STARTTLS -> "NBD_OPT_STARTTLS";
            case OPT_INFO -> "NBD_OPT_INFO";
            case OPT_GO -> "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS -> "NBD_OPT_EXTENDED_HEADERS";
            default -> "NBD_OPT_" + Integer.toUnsignedString(option) + "(unknown)";
        };
    }

    public static String repName(int reply) {
        return switch (reply) {
            case REP_ACK -> "NBD_REP_ACK";
            case REP_SERVER -> "NBD_REP_SERVER";
            case REP_INFO -> "NBD_REP_INFO";
            case REP_META_CONTEXT -> "NBD_REP_META_CONTEXT";
            case REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
            case REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
            case REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
            case REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
            case REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
            case REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
            case REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
            case REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
            case REP_ERR_EXT_HEADER_REQD -> "NBD_REP_ERR_EXT_HEADER_REQD";
            default -> "NBD_REP_0x" + Integer.toHexString(reply) + "(unknown)";
        };
    }

    public static String infoName(int info) {
        return switch (info) {
            case INFO_EXPORT -> "NBD_INFO_EXPORT";
            case INFO_NAME -> "NBD_INFO_NAME";
            case INFO_DESCRIPTION -> "NBD_INFO_DESCRIPTION";
            case INFO_BLOCK_SIZE -> "NBD_INFO_BLOCK_SIZE";
            default -> "NBD_INFO_" + info + "(unknown)";
        };
    }

    public static String cmdName(int command) {
        return switch (command) {
            case CMD_READ -> "NBD_CMD_READ";
            case CMD_WRITE -> "NBD_CMD_WRITE";
            case CMD_DISC -> "NBD_CMD_DISC";
            case CMD_FLUSH -> "NBD_CMD_FLUSH";
            case CMD_TRIM -> "NBD_CMD_TRIM";
            case CMD_CACHE -> "NBD_CMD_CACHE";
            case CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "NBD_CMD_BLOCK_STATUS";
            case CMD_RESIZE -> "NBD_CMD_RESIZE";
            default -> "NBD_CMD_" + command + "(unknown)";
        };
    }

    /** Short lower-case command name for metric labels; every unknown command shares one label. */
    static String cmdLabel(int command) {
        return switch (command) {
            case CMD_READ -> "read";
            case CMD_WRITE -> "write";
            case CMD_DISC -> "disc";
            case CMD_FLUSH -> "flush";
            case CMD_TRIM -> "trim";
            case CMD_CACHE -> "cache";
            case CMD_WRITE_ZEROES -> "write_zeroes";
            case CMD_BLOCK_STATUS -> "block_status";
            case CMD_RESIZE -> "resize";
            default -> "unknown";
        };
    }

    public static String errName(int error) {
        return switch (error) {
            case 0 -> "OK";
            case EPERM -> "EPERM";
            case EIO -> "EIO";
            case ENOMEM -> "ENOMEM";
            case EINVAL -> "EINVAL";
            case ENOSPC -> "ENOSPC";
            case EOVERFLOW -> "EOVERFLOW";
            case ENOTSUP -> "ENOTSUP";
            case ESHUTDOWN -> "ESHUTDOWN";
            default -> "E" + error + "(unknown)";
        };
    }

    public static String replyTypeName(int type) {
        return switch (type) {
            case REPLY_TYPE_NONE -> "NBD_REPLY_TYPE_NONE";
            case REPLY_TYPE_OFFSET_DATA -> "NBD_REPLY_TYPE_OFFSET_DATA";
            case REPLY_TYPE_OFFSET_HOLE -> "NBD_REPLY_TYPE_OFFSET_HOLE";
            case REPLY_TYPE_BLOCK_STATUS -> "NBD_REPLY_TYPE_BLOCK_STATUS";
            case REPLY_TYPE_ERROR -> "NBD_REPLY_TYPE_ERROR";
            case REPLY_TYPE_ERROR_OFFSET -> "NBD_REPLY_TYPE_ERROR_OFFSET";
            default -> "NBD_REPLY_TYPE_" + type + "(unknown)";
        };
    }

    /** E.g. {@code HAS_FLAGS|SEND_FLUSH|SEND_FUA (0x000d)}. */
    public static String txFlagsName(int flags) {
        return bitNames(flags, TX_FLAG_NAMES) + String.format(" (0x%04x)", flags);
    }

    /** E.g. {@code FUA|NO_HOLE}, or {@code none}. */
    public static String cmdFlagsName(int flags) {
        return bitNames(flags, CMD_FLAG_NAMES);
    }

    private static String bitNames(int flags, String[] names) {
        if (flags == 0) return "none";
        StringJoiner out = new StringJoiner("|");
        for (int bit = 0; bit < 32; bit++) {
            if ((flags & (1 << bit)) == 0) continue;
            out.add(bit < names.length ? names[bit] : "bit" + bit);
        }
        return out.toString();
    }

    // ---- strings ------------------------------------------------------------------------------------

    /**
     * Decodes {@code length} bytes of {@code data} as a protocol string, or returns null when they are not
     * valid UTF-8 or contain NUL (both forbidden by the spec). Consumes the bytes either way.
     */
    static String utf8(ByteBuffer data, int length) {
        ByteBuffer slice = data.slice(data.position(), length);
        data.position(data.position() + length);
        for (int i = 0; i < length; i++) {
            if (slice.get(i) == 0) return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(slice).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Quotes a client-supplied string for a log line: bounded, control characters escaped. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(Math.min(s.length(), 80) + 2).append('\'');
        for (int i = 0; i < s.length() && i < 80; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) out.append(String.format("\\x%02x", (int) c)); else out.append(c);
        }
        if (s.length() > 80) out.append("...");
        return out.append('\'').toString();
    }
}
