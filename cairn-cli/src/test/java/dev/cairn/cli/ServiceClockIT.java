package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --test-clock} and {@code cairn clock now|advance}, as the contract describes. */
class ServiceClockIT {
    @TempDir Path tmp;

    @Test
    void theClockMovesOnlyWhenToldAndOnlyWithTestClock() throws Exception {
        Instant stoppedAt;
        try (CairnProcess server = CairnProcess.start(tmp.resolve("a"), "--test-clock")) {
            Path creds = server.credentials();
            Instant before = Instant.parse(cairn(creds, "clock", "now").ok().out().trim());
            Instant after = Instant.parse(cairn(creds, "clock", "advance", "26h").ok().out().trim());
            assertThat(Duration.between(before, after)).isGreaterThanOrEqualTo(Duration.ofHours(26)).isLessThan(Duration.ofHours(26).plusMinutes(1));
            assertThat(Instant.parse(cairn(creds, "clock", "advance", "PT1H").ok().out().trim())).isEqualTo(after.plus(Duration.ofHours(1)));
            // API calls are still signed with real time: they keep working after the jump.
            String instance = cairn(creds, "instance", "create", "--wait").ok().out().trim();
            String created = new ObjectMapper().readTree(cairn(creds, "--output", "json", "instance", "list", instance).ok().out())
                    .path("InstanceSet").get(0).path("CreatedTime").asText();
            assertThat(Instant.parse(created)).isAfterOrEqualTo(after.plus(Duration.ofHours(1)).minusSeconds(1));
            Tools.Result backwards = cairn(creds, "clock", "advance", "PT0S");
            assertThat(backwards.exit()).isNotZero();
            stoppedAt = Instant.parse(cairn(creds, "clock", "now").ok().out().trim());
            assertThat(server.stop()).isZero();
        }
        try (CairnProcess server = CairnProcess.start(tmp.resolve("a"), "--test-clock")) {
            // a restart resumes the test clock where it was (schedules and retention would jump back otherwise)
            Instant resumed = Instant.parse(cairn(server.credentials(), "clock", "now").ok().out().trim());
            assertThat(resumed).isEqualTo(stoppedAt);
            assertThat(server.stop()).isZero();
        }
        try (CairnProcess server = CairnProcess.start(tmp.resolve("b"))) {
            Tools.Result refused = cairn(server.credentials(), "clock", "advance", "1h");
            assertThat(refused.exit()).isNotZero();
            assertThat(refused.err()).contains("UnsupportedOperation");
            assertThat(cairn(server.credentials(), "clock", "now").exit()).isNotZero();
            assertThat(server.stop()).isZero();
        }
    }
}
