package dev.cairn.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CapturePacerTest {
    @Test
    void whileDisksAreWrittenEachThreadSleepsSoThatAllTogetherUseTheirShareOfTheCores() {
        // 10% of 2 cores over 4 threads: each may be on a core 5% of its time, so 1 ms of work buys 19 ms of sleep
        assertThat(new CapturePacer(0.1, 2, 4).pauseFor(1_000_000)).isEqualTo(19_000_000);
        // 50% of 8 cores over 4 threads: each may use a whole core; no sleep
        assertThat(new CapturePacer(0.5, 8, 4).pauseFor(1_000_000)).isZero();
        // a share of 1 turns pacing off
        assertThat(new CapturePacer(1, 2, 4).pauseFor(1_000_000)).isZero();
        assertThat(new CapturePacer(1, 2, 4).cpuNow()).isZero();
    }
}
