package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * When an auto-snapshot policy fires: Tencent's {@code Policy} list. Each {@link Rule} names hours of
 * the day (0–23) and which days — days of the week (0 = Sunday), days of the month (1–31; months
 * without that day are skipped) or every N days counted from the policy's {@code anchor} date; with
 * none of them, every day. Hours are wall-clock hours in the region's time zone.
 *
 * <p><b>DST.</b> A firing is the local date and hour turned into an instant with
 * {@link ZonedDateTime#of}: an hour that a spring-forward gap skips fires at the shifted time (once), an
 * hour that a fall-back overlap repeats fires once (at its earlier offset), and two local hours that
 * land on one instant fire once.
 *
 * <p>Immutable. Stored in the catalog in the compact text form of {@link #encode} /{@link #decode}.
 */
public record Schedule(List<Rule> rules, LocalDate anchor) {
    /** How far ahead {@link #next} looks: enough for any day of the month and a 365-day interval. */
    private static final int HORIZON_DAYS = 800;

    /**
     * One {@code Policy}: {@code hours} plus at most one day selector ({@code daysOfWeek},
     * {@code daysOfMonth} or {@code intervalDays} &gt; 0).
     */
    public record Rule(List<Integer> hours, List<Integer> daysOfWeek, List<Integer> daysOfMonth, int intervalDays) {
        public Rule {
            hours = sortedDistinct(hours);
            daysOfWeek = sortedDistinct(daysOfWeek);
            daysOfMonth = sortedDistinct(daysOfMonth);
        }

        boolean firesOn(LocalDate date, LocalDate anchor) {
            if (!daysOfWeek.isEmpty()) return daysOfWeek.contains(date.getDayOfWeek().getValue() % 7);
            if (!daysOfMonth.isEmpty()) return daysOfMonth.contains(date.getDayOfMonth());
            if (intervalDays > 0) return Math.floorMod(ChronoUnit.DAYS.between(anchor, date), intervalDays) == 0;
            return true;
        }
    }

    public Schedule {
        rules = List.copyOf(rules);
    }

    /**
     * Checks Tencent's ranges; the first of {@code DayOfWeek}, {@code DayOfMonth}, {@code IntervalDays}
     * that is given wins (as Tencent documents), so a rule keeps only that selector.
     *
     * @throws InvalidValue naming the field ({@code Policy.0.Hour} …) on a bad value
     */
    public static Schedule of(List<Rule> given, LocalDate anchor) {
        if (given.isEmpty()) throw new InvalidValue("Policy", InvalidValue.Reason.VALUE, "`Policy` needs at least one schedule");
        if (given.size() > 10) throw new InvalidValue("Policy", InvalidValue.Reason.TOO_MANY, "at most 10 schedules in `Policy`");
        List<Rule> rules = new ArrayList<>();
        for (int i = 0; i < given.size(); i++) {
            Rule r = given.get(i);
            String at = "Policy." + i + ".";
            if (r.hours().isEmpty()) throw new InvalidValue(at + "Hour", InvalidValue.Reason.VALUE, "`" + at + "Hour` needs at least one hour (0-23)");
            requireRange(r.hours(), 0, 23, at + "Hour");
            requireRange(r.daysOfWeek(), 0, 6, at + "DayOfWeek");
            requireRange(r.daysOfMonth(), 1, 31, at + "DayOfMonth");
            if (r.intervalDays() < 0 || r.intervalDays() > 365) {
                throw new InvalidValue(at + "IntervalDays", InvalidValue.Reason.VALUE, "`" + at + "IntervalDays` must be 1-365, got " + r.intervalDays());
            }
            if (!r.daysOfWeek().isEmpty()) rules.add(new Rule(r.hours(), r.daysOfWeek(), List.of(), 0));
            else if (!r.daysOfMonth().isEmpty()) rules.add(new Rule(r.hours(), List.of(), r.daysOfMonth(), 0));
            else rules.add(new Rule(r.hours(), List.of(), List.of(), r.intervalDays()));
        }
        return new Schedule(rules, anchor);
    }

    private static void requireRange(List<Integer> values, int min, int max, String field) {
        for (int v : values) {
            if (v < min || v > max) {
                throw new InvalidValue(field, InvalidValue.Reason.VALUE, "`" + field + "` values must be " + min + "-" + max + ", got " + v);
            }
        }
    }

    /** The first firing strictly after {@code after}, or empty if there is none within two years. */
    public Optional<Instant> next(Instant after, ZoneId zone) {
        LocalDate day = after.atZone(zone).toLocalDate().minusDays(1); // a shifted (DST) hour may spill past midnight
        for (int i = 0; i < HORIZON_DAYS; i++, day = day.plusDays(1)) {
            SortedSet<Instant> today = new TreeSet<>();
            for (Rule r : rules) {
                if (!r.firesOn(day, anchor)) continue;
                for (int h : r.hours()) today.add(ZonedDateTime.of(day, LocalTime.of(h, 0), zone).toInstant());
            }
            for (Instant t : today) if (t.isAfter(after)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /**
     * The latest firing in {@code (after, upTo]}, or empty: what a scheduler that was down catches up
     * (once, not once per missed firing).
     */
    public Optional<Instant> latestIn(Instant after, Instant upTo, ZoneId zone) {
        Optional<Instant> last = Optional.empty();
        for (Optional<Instant> t = next(after, zone); t.isPresent() && !t.get().isAfter(upTo); t = next(t.get(), zone)) last = t;
        return last;
    }

    /** {@code h=2,14;w=1,5|h=3;m=1,15|h=0;i=3@2026-11-26}: rules split by {@code |}, then the anchor date. */
    public String encode() {
        StringBuilder b = new StringBuilder();
        for (Rule r : rules) {
            if (!b.isEmpty()) b.append('|');
            b.append("h=").append(join(r.hours()));
            if (!r.daysOfWeek().isEmpty()) b.append(";w=").append(join(r.daysOfWeek()));
            if (!r.daysOfMonth().isEmpty()) b.append(";m=").append(join(r.daysOfMonth()));
            if (r.intervalDays() > 0) b.append(";i=").append(r.intervalDays());
        }
        return b.append('@').append(anchor).toString();
    }

    public static Schedule decode(String text) {
        int at = text.lastIndexOf('@');
        List<Rule> rules = new ArrayList<>();
        for (String rule : text.substring(0, at).split("\\|")) {
            List<Integer> hours = List.of(), week = List.of(), month = List.of();
            int interval = 0;
            for (String part : rule.split(";")) {
                String value = part.substring(2);
                switch (part.charAt(0)) {
                    case 'h' -> hours = ints(value);
                    case 'w' -> week = ints(value);
                    case 'm' -> month = ints(value);
                    case 'i' -> interval = Integer.parseInt(value);
                    default -> throw new IllegalArgumentException("bad schedule text: " + text);
                }
            }
            rules.add(new Rule(hours, week, month, interval));
        }
        return new Schedule(rules, LocalDate.parse(text.substring(at + 1)));
    }

    private static List<Integer> ints(String csv) {
        List<Integer> out = new ArrayList<>();
        for (String s : csv.split(",")) out.add(Integer.parseInt(s));
        return out;
    }

    private static String join(List<Integer> values) {
        return String.join(",", values.stream().map(String::valueOf).toList());
    }

    private static List<Integer> sortedDistinct(List<Integer> values) {
        return values == null ? List.of() : List.copyOf(new TreeSet<>(values));
    }
}
