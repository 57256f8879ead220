package dev.cairn.nbd;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * fio's nbd engine: many connections, 32 requests in flight each, out-of-order completion, data verified
 * with checksums; its set-up connection closes without DISC, which must not be logged as a problem.
 */
@Tag("slow")
class FioTest {
    private static final long SIZE = 64 << 20;
    @TempDir static Path dir;
    static TestServer server;
    static ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        TestExports exports = new TestExports();
        exports.addFile(dir, "disk", SIZE);
        server = TestServer.start(exports);
        Logger nbd = (Logger) LoggerFactory.getLogger("dev.cairn.nbd");
        logs.start();
        nbd.addAppender(logs);
    }

    @AfterAll
    static void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger("dev.cairn.nbd")).detachAppender(logs);
        server.close();
        server.awaitQuiet();
        server.exports.close();
    }

    private static Tools.Result fio(String... args) {
        String[] cmd = new String[args.length + 5];
        cmd[0] = "fio";
        cmd[1] = "--ioengine=nbd";
        cmd[2] = "--uri=" + server.uri("disk");
        cmd[3] = "--output-format=terse";
        cmd[4] = "--verify_state_save=0";
        System.arraycopy(args, 0, cmd, 5, args.length);
        Tools.Result r = Tools.run(Duration.ofSeconds(120), cmd);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.err()).as(r.describe()).doesNotContainIgnoringCase("verify").doesNotContainIgnoringCase("error");
        return r;
    }

    @Test
    void randomWritesFromFourJobsVerifyWithCrc32c() {
        fio("--name=v", "--rw=randwrite", "--bs=4k", "--iodepth=32", "--numjobs=4", "--size=16M", "--offset_increment=16M",
                "--verify=crc32c");
        assertThat(server.metrics.requests("write", "ok")).isGreaterThanOrEqualTo(4 * 4096);
        assertThat(logs.list).as("no warnings or errors, even though fio's set-up connection closes without DISC")
                .noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.WARN));
    }

    @Test
    void mixedLoadAndTrimWithFinalFlush() {
        fio("--name=m", "--rw=randrw", "--bs=64k", "--iodepth=16", "--numjobs=2", "--size=32M", "--offset_increment=32M",
                "--verify=crc32c", "--do_verify=1");
        fio("--name=t", "--rw=randtrim", "--bs=64k", "--size=16M", "--end_fsync=1");
        assertThat(server.metrics.requests("trim", "ok")).isGreaterThanOrEqualTo(256);
        fio("--name=s", "--rw=write", "--bs=1M", "--iodepth=8", "--size=16M", "--end_fsync=1"); // fio flushes only after writes
        assertThat(server.metrics.requests("flush", "ok")).isPositive();
    }
}
