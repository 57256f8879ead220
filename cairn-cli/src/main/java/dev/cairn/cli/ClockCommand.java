package dev.cairn.cli;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code cairn clock now|advance DURATION}: the service clock of a server started with {@code --test-clock}
 * (other servers refuse with UnsupportedOperation).
 */
@Command(name = "clock", description = "The service clock (only on a server started with --test-clock).",
        subcommands = {ClockCommand.Now.class, ClockCommand.Advance.class})
final class ClockCommand {
    private static final Pattern SHORT = Pattern.compile("(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

    @Command(name = "now", description = "Print the service's current time (ISO-8601, UTC).")
    static final class Now extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            System.out.println(api().call("DescribeClock", params()).path("Now").asText());
            return 0;
        }
    }

    @Command(name = "advance", description = "Move the clock forward, firing every auto-snapshot policy due on the way, in order; prints the new time. DURATION: ISO-8601 (PT26H) or 1d2h30m10s.")
    static final class Advance extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DURATION") String duration;

        @Override
        public Integer call() throws Exception {
            String iso = parse(duration).toString();
            System.out.println(api().call("AdvanceClock", params().put("Duration", iso), java.time.Duration.ofHours(1)) /* fires what is due on the way */.path("Now").asText());
            return 0;
        }
    }

    /** ISO-8601 ({@code PT26H}, {@code P2D}) or the short form {@code 26h}, {@code 1d12h}, {@code 90m}, {@code 30s}. */
    static Duration parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.startsWith("p")) return Duration.parse(t.toUpperCase(Locale.ROOT));
        Matcher m = SHORT.matcher(t);
        if (t.isEmpty() || !m.matches()) {
            throw new IllegalArgumentException("duration must look like PT26H, 26h, 1d12h, 90m or 30s; got '" + text + "'");
        }
        Duration d = Duration.ZERO;
        if (m.group(1) != null) d = d.plusDays(Long.parseLong(m.group(1)));
        if (m.group(2) != null) d = d.plusHours(Long.parseLong(m.group(2)));
        if (m.group(3) != null) d = d.plusMinutes(Long.parseLong(m.group(3)));
        if (m.group(4) != null) d = d.plusSeconds(Long.parseLong(m.group(4)));
        return d;
    }

    private ClockCommand() {}
}
