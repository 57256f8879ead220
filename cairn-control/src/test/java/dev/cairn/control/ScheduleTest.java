package dev.cairn.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.Schedule.Rule;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScheduleTest {
    static final ZoneId SHANGHAI = ZoneId.of("Asia/Shanghai");
    static final ZoneId NEW_YORK = ZoneId.of("America/New_York");
    static final LocalDate ANCHOR = LocalDate.of(2026, 11, 26);

    static Rule hours(Integer... h) {
        return new Rule(List.of(h), List.of(), List.of(), 0);
    }

    static List<Instant> firings(Schedule s, ZonedDateTime from, int n) {
        List<Instant> out = new ArrayList<>();
        Instant t = from.toInstant();
        for (int i = 0; i < n; i++) {
            t = s.next(t, from.getZone()).orElseThrow();
            out.add(t);
        }
        return out;
    }

    static Instant at(String local, ZoneId zone) {
        return java.time.LocalDateTime.parse(local).atZone(zone).toInstant();
    }

    @Test
    void daysOfWeekAtHoursInTheRegionsZone() {
        // Mon-Fri at 02:00 and 14:00 (Tencent's example); 2026-11-26 is a Thursday
        Schedule s = Schedule.of(List.of(new Rule(List.of(14, 2), List.of(1, 2, 3, 4, 5), List.of(), 0)), ANCHOR);
        List<Instant> got = firings(s, ZonedDateTime.of(2026, 11, 26, 10, 0, 0, 0, SHANGHAI), 4);
        assertThat(got).containsExactly(at("2026-11-26T14:00", SHANGHAI), at("2026-11-27T02:00", SHANGHAI),
                at("2026-11-27T14:00", SHANGHAI), at("2026-11-30T02:00", SHANGHAI)); // skips the weekend
    }

    @Test
    void firingAtExactlyNowIsNotNext() {
        Schedule s = Schedule.of(List.of(hours(2)), ANCHOR);
        Instant two = at("2026-11-27T02:00", SHANGHAI);
        assertThat(s.next(two, SHANGHAI)).contains(at("2026-11-28T02:00", SHANGHAI));
        assertThat(s.next(two.minusMillis(1), SHANGHAI)).contains(two);
    }

    @Test
    void dayOfMonthSkipsMonthsWithoutThatDay() {
        Schedule s = Schedule.of(List.of(new Rule(List.of(3), List.of(), List.of(31), 0)), ANCHOR);
        List<Instant> got = firings(s, ZonedDateTime.of(2027, 1, 31, 4, 0, 0, 0, SHANGHAI), 2);
        assertThat(got).containsExactly(at("2027-03-31T03:00", SHANGHAI), at("2027-05-31T03:00", SHANGHAI));
    }

    @Test
    void intervalDaysCountFromTheAnchor() {
        Schedule s = Schedule.of(List.of(new Rule(List.of(1), List.of(), List.of(), 3)), ANCHOR);
        List<Instant> got = firings(s, ZonedDateTime.of(2026, 11, 26, 0, 0, 0, 0, SHANGHAI), 3);
        assertThat(got).containsExactly(at("2026-11-26T01:00", SHANGHAI), at("2026-11-29T01:00", SHANGHAI), at("2026-12-02T01:00", SHANGHAI));
    }

    @Test
    void theFirstDaySelectorGivenWinsAsTencentDocuments() {
        Schedule s = Schedule.of(List.of(new Rule(List.of(5), List.of(0), List.of(1), 2)), ANCHOR);
        assertThat(s.rules().getFirst()).isEqualTo(new Rule(List.of(5), List.of(0), List.of(), 0));
    }

    @Test
    void severalRulesMergeInTimeOrder() {
        Schedule s = Schedule.of(List.of(hours(20), new Rule(List.of(8), List.of(), List.of(27), 0)), ANCHOR);
        List<Instant> got = firings(s, ZonedDateTime.of(2026, 11, 27, 0, 0, 0, 0, SHANGHAI), 3);
        assertThat(got).containsExactly(at("2026-11-27T08:00", SHANGHAI), at("2026-11-27T20:00", SHANGHAI), at("2026-11-28T20:00", SHANGHAI));
    }

    @Test
    void springForwardFiresTheMissingHourOnceAtTheShiftedTime() {
        // 2027-03-14 02:00 does not exist in New York; hours 2 and 3 both land on 03:00 EDT: one firing
        Schedule s = Schedule.of(List.of(hours(2, 3)), ANCHOR);
        List<Instant> got = firings(s, ZonedDateTime.of(2027, 3, 13, 12, 0, 0, 0, NEW_YORK), 3);
        assertThat(got).containsExactly(Instant.parse("2027-03-14T07:00:00Z"), Instant.parse("2027-03-15T06:00:00Z"),
                Instant.parse("2027-03-15T07:00:00Z"));
    }

    @Test
    void fallBackFiresTheRepeatedHourOnce() {
        // 2026-11-01 01:00 happens twice in New York: fire at the first one only
        Schedule s = Schedule.of(List.of(hours(1)), ANCHOR);
        List<Instant> got = firings(s, ZonedDateTime.of(2026, 10, 31, 12, 0, 0, 0, NEW_YORK), 2);
        assertThat(got).containsExactly(Instant.parse("2026-11-01T05:00:00Z"), Instant.parse("2026-11-02T06:00:00Z"));
    }

    @Test
    void latestInIsWhatADownSchedulerCatchesUpOnce() {
        Schedule s = Schedule.of(List.of(hours(2)), ANCHOR);
        Instant after = at("2026-11-26T03:00", SHANGHAI);
        assertThat(s.latestIn(after, at("2026-11-29T12:00", SHANGHAI), SHANGHAI)).contains(at("2026-11-29T02:00", SHANGHAI));
        assertThat(s.latestIn(after, at("2026-11-27T01:00", SHANGHAI), SHANGHAI)).isEmpty();
    }

    @Test
    void encodesAndDecodesEveryKindOfRule() {
        Schedule s = Schedule.of(List.of(new Rule(List.of(2, 14), List.of(1, 5), List.of(), 0), new Rule(List.of(3), List.of(), List.of(1, 15), 0),
                new Rule(List.of(0), List.of(), List.of(), 3), hours(23)), ANCHOR);
        assertThat(s.encode()).isEqualTo("h=2,14;w=1,5|h=3;m=1,15|h=0;i=3|h=23@2026-11-26");
        assertThat(Schedule.decode(s.encode())).isEqualTo(s);
    }

    @Test
    void badValuesNameTheField() {
        assertThatThrownBy(() -> Schedule.of(List.of(hours(24)), ANCHOR)).isInstanceOf(InvalidValue.class).hasMessageContaining("Policy.0.Hour");
        assertThatThrownBy(() -> Schedule.of(List.of(hours()), ANCHOR)).isInstanceOf(InvalidValue.class).hasMessageContaining("Policy.0.Hour");
        assertThatThrownBy(() -> Schedule.of(List.of(hours(1), new Rule(List.of(1), List.of(7), List.of(), 0)), ANCHOR))
                .isInstanceOf(InvalidValue.class).hasMessageContaining("Policy.1.DayOfWeek");
        assertThatThrownBy(() -> Schedule.of(List.of(new Rule(List.of(1), List.of(), List.of(0), 0)), ANCHOR))
                .hasMessageContaining("Policy.0.DayOfMonth");
        assertThatThrownBy(() -> Schedule.of(List.of(new Rule(List.of(1), List.of(), List.of(), 366)), ANCHOR))
                .hasMessageContaining("Policy.0.IntervalDays");
        assertThatThrownBy(() -> Schedule.of(List.of(), ANCHOR)).hasMessageContaining("`Policy`");
    }
}
