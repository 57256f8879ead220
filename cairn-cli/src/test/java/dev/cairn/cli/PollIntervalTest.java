package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PollIntervalTest {

    private static long millis(long waited, int percent) {
        return ClientCommand.PollInterval.millis(waited, percent);
    }

    @Test
    void withoutProgressShortWaitsPollEvery20MsAndLongOnesEvery100() {
        assertThat(millis(0, -1)).isEqualTo(20);
        assertThat(millis(300, 0)).isEqualTo(20);
        assertThat(millis(1_000, -1)).isEqualTo(50);
        assertThat(millis(60_000, 0)).isEqualTo(100);
    }

    @Test
    void withProgressPollsFourTimesASecondMidWayAndCloseInOnTheExpectedEnd() {
        // a 6 s capture: at 1 s 16% done, 5.2 s left
        assertThat(millis(1_000, 16)).isEqualTo(250);
        // at 5.7 s 95% done, 0.3 s left: half of it
        assertThat(millis(5_700, 95)).isEqualTo(150);
        // at 99% (the commit), 60 ms left: the floor
        assertThat(millis(6_000, 99)).isEqualTo(30);
        assertThat(millis(1_000, 99)).isEqualTo(20);
    }

    @Test
    void aSixSecondCaptureIsPolledAboutTwentyFiveTimesAndItsEndSeenWithin50Ms() {
        long end = 6_000;
        long t = 0;
        int polls = 0;
        while (t < end) {
            int percent = (int) Math.min(99, t * 100 / end); // progress at a steady rate
            t += millis(t, percent);
            polls++;
        }
        assertThat(polls).isBetween(20, 45); // was 70 at one poll per 100 ms
        assertThat(t - end).isLessThanOrEqualTo(50);
    }

    @Test
    void aShortWaitWhoseRateJumpsIsSeenWithinAQuarterOfItsTime() {
        // 0.56 s: 40% done at 0.46 s (a slow start), then the rest in 0.1 s
        long end = 560;
        long t = 0;
        while (t < end) t += millis(t, t < 460 ? (int) (t * 40 / 460) : 40);
        assertThat(t - end).isLessThanOrEqualTo(60); // polls 0.25 s apart from 0.46 s on saw it 210 ms late
        assertThat(millis(460, 40)).isEqualTo(115);
    }
}
