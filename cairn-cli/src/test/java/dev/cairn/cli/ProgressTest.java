package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** {@code snapshot create --wait}'s progress bar: percent, MiB/s and an ETA from the rate so far. */
class ProgressTest {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    final AtomicLong now = new AtomicLong(1_000_000_000L);

    String printed() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void theEtaIsTheTimeLeftAtTheRateSoFar() {
        SnapshotCommand.Progress bar = new SnapshotCommand.Progress(err, false, now::get);
        bar.show(0, 0);
        assertThat(printed()).isEqualTo("[....................]   0%      0.0 MiB/s  ETA -\n");
        now.addAndGet(10_000_000_000L); // 10 s: a quarter done, 100 MiB read
        bar.show(25, 100L << 20);
        assertThat(printed().lines().toList().getLast()).isEqualTo("[#####...............]  25%     10.0 MiB/s  ETA 0:30");
        now.addAndGet(20_000_000_000L); // 30 s: 75%
        bar.show(75, 300L << 20);
        assertThat(printed().lines().toList().getLast()).isEqualTo("[###############.....]  75%     10.0 MiB/s  ETA 0:10");
        bar.show(100, 400L << 20);
        assertThat(printed().lines().toList().getLast()).endsWith("100%     13.3 MiB/s  ETA -");
    }

    @Test
    void withoutATerminalALineIsPrintedPerTenPercentOnATerminalOneLineIsRedrawn() {
        SnapshotCommand.Progress log = new SnapshotCommand.Progress(err, false, now::get);
        for (int p = 0; p <= 100; p += 2) log.show(p, p);
        assertThat(printed().lines()).hasSize(11); // 0, 10, …, 100

        bytes.reset();
        SnapshotCommand.Progress tty = new SnapshotCommand.Progress(err, true, now::get);
        for (int p = 0; p <= 100; p += 2) tty.show(p, p);
        tty.end();
        assertThat(printed()).startsWith("\r[").endsWith("ETA -\n").containsOnlyOnce("\n");
        assertThat(printed().split("\r")).hasSize(52); // an empty piece before the first, then one per update
    }

    @Test
    void longWaitsShowHours() {
        assertThat(SnapshotCommand.Progress.formatSeconds(59)).isEqualTo("0:59");
        assertThat(SnapshotCommand.Progress.formatSeconds(3725)).isEqualTo("1:02:05");
    }
}
