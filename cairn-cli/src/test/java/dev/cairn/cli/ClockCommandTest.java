package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ClockCommandTest {
    @Test
    void durationsInIsoAndShortForm() {
        assertThat(ClockCommand.parse("PT26H")).isEqualTo(Duration.ofHours(26));
        assertThat(ClockCommand.parse("p2d")).isEqualTo(Duration.ofDays(2));
        assertThat(ClockCommand.parse("26h")).isEqualTo(Duration.ofHours(26));
        assertThat(ClockCommand.parse("1d12h30m5s")).isEqualTo(Duration.ofSeconds(86400 + 12 * 3600 + 1800 + 5));
        assertThat(ClockCommand.parse("90m")).isEqualTo(Duration.ofMinutes(90));
        assertThatThrownBy(() -> ClockCommand.parse("soon")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ClockCommand.parse("")).isInstanceOf(IllegalArgumentException.class);
    }
}
