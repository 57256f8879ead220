package dev.cairn.nbd;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Deterministic fuzzing of {@link NbdConnection} through its byte-channel seam (nbdkit's {@code fuzzing/}):
 * seeded random streams — pure noise, noisy option haggling, and noisy requests after a valid handshake —
 * must always end in a clean close: no exception escapes, nothing is logged at ERROR, the connection
 * reaches CLOSED and every export handle is closed again (checked by {@link ConnectionHarness}).
 */
class NbdFuzzTest {
    private static final long SIZE = 1 << 20;
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger nbdLogger = (Logger) LoggerFactory.getLogger("dev.cairn.nbd");

    @BeforeEach
    void watchLogs() {
        logs.start();
        nbdLogger.addAppender(logs);
    }

    @AfterEach
    void stopWatching() {
        nbdLogger.detachAppender(logs);
        assertThat(logs.list).as("nothing unexpected happened").noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.ERROR));
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void randomStreamsAlwaysEndInACleanClose(long seed) {
        Random random = new Random(seed);
        TestExports exports = new TestExports().add("disk", new MemoryVolume(SIZE)).add("ro", new MemoryVolume(SIZE, true));
        ConnectionHarness harness = new ConnectionHarness(exports);
        harness.inline = seed % 2 == 0; // both execution paths: reader runs small requests itself, or never
        for (int i = 0; i < 150; i++) {
            byte[] stream = switch (i % 3) {
                case 0 -> noise(random, random.nextInt(300));
                case 1 -> options(random);
                default -> requests(random);
            };
            harness.run(stream); // asserts CLOSED, no export left open, gauge back to 0
        }
        assertThat(exports.opened.get()).isEqualTo(exports.closed.get());
        assertThat(harness.metrics.handshakes("ok")).as("the fuzz reaches transmission").isGreaterThan(40);
        assertThat(harness.metrics.requests("read", "ok") + harness.metrics.requests("write", "ok")).as("and valid requests").isPositive();
    }

    private static byte[] noise(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static final int[] OPTIONS = {Nbd.OPT_EXPORT_NAME, Nbd.OPT_ABORT, Nbd.OPT_LIST, Nbd.OPT_PEEK_EXPORT, Nbd.OPT_STARTTLS,
            Nbd.OPT_INFO, Nbd.OPT_GO, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT,
            Nbd.OPT_EXTENDED_HEADERS, 0, 12, 0x7fffffff, -1};

    /** Client flags (usually valid) then a mix of well-formed, malformed and truncated options. */
    private static byte[] options(Random random) {
        WireBytes w = new WireBytes().clientFlags(random.nextInt(10) == 0 ? random.nextInt() : random.nextInt(4));
        int n = random.nextInt(12);
        for (int i = 0; i < n; i++) {
            int option = OPTIONS[random.nextInt(OPTIONS.length)];
            byte[] data = switch (random.nextInt(6)) {
                case 0 -> WireBytes.infoData(random.nextBoolean() ? "disk" : "ro", random.nextInt(5), random.nextInt(5));
                case 1 -> WireBytes.metaData("disk", random.nextBoolean() ? "base:allocation" : "base:", "x:y");
                case 2 -> random.nextBoolean() ? "disk".getBytes() : "nope".getBytes();
                case 3 -> new byte[0];
                default -> noise(random, random.nextInt(64));
            };
            if (random.nextInt(8) == 0) data = mutate(random, data);
            if (random.nextInt(10) == 0) {
                w.u64(random.nextInt(4) == 0 ? random.nextLong() : Nbd.IHAVEOPT).u32(option).u32(data.length + random.nextInt(50) - 25).bytes(data);
            } else {
                w.option(option, data);
            }
        }
        if (random.nextBoolean()) w.bytes(noise(random, random.nextInt(40)));
        return w.toByteArray();
    }

    private static final int[] COMMANDS = {Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_CACHE,
            Nbd.CMD_WRITE_ZEROES, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_RESIZE, Nbd.CMD_DISC, 9, 0xffff};

    /** A valid handshake (random export, structured or not, context or not), then noisy requests. */
    private static byte[] requests(Random random) {
        String export = random.nextInt(4) == 0 ? "ro" : "disk";
        WireBytes w = new WireBytes().clientFlags(3);
        if (random.nextBoolean()) w.option(Nbd.OPT_STRUCTURED_REPLY);
        if (random.nextBoolean()) w.option(Nbd.OPT_SET_META_CONTEXT, WireBytes.metaData(export, "base:allocation"));
        w.option(Nbd.OPT_GO, WireBytes.infoData(export));
        int n = random.nextInt(30);
        for (int i = 0; i < n; i++) {
            int type = COMMANDS[random.nextInt(COMMANDS.length)];
            if (type == Nbd.CMD_DISC && random.nextInt(4) != 0) type = Nbd.CMD_READ;
            int flags = random.nextInt(4) == 0 ? random.nextInt(0x10000) : random.nextInt(0x20);
            long offset = switch (random.nextInt(4)) {
                case 0 -> random.nextLong();
                case 1 -> SIZE - random.nextInt(8192);
                default -> random.nextLong(SIZE);
            };
            long length = switch (random.nextInt(5)) {
                case 0 -> Integer.toUnsignedLong(random.nextInt());
                case 1 -> 0;
                default -> random.nextInt(65536);
            };
            boolean payload = type == Nbd.CMD_WRITE && length <= 65536;
            w.u32(random.nextInt(40) == 0 ? random.nextInt() : Nbd.REQUEST_MAGIC).u16(flags).u16(type)
                    .u64(random.nextLong()).u64(offset).u32((int) length);
            if (payload) w.bytes(noise(random, random.nextInt(10) == 0 ? random.nextInt((int) length + 1) : (int) length));
        }
        if (random.nextInt(3) == 0) w.disc();
        return w.toByteArray();
    }

    private static byte[] mutate(Random random, byte[] data) {
        byte[] out = data.clone();
        if (out.length == 0) return noise(random, 4);
        for (int k = 0; k < 1 + random.nextInt(3); k++) out[random.nextInt(out.length)] = (byte) random.nextInt(256);
        return out;
    }
}
