package dev.cairn.control;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The clock of {@code cairn serve --test-clock}: it starts at the real time and then moves only when
 * told to, so time-driven behaviour (create times, schedules, retention, deadlines) can be tested
 * without waiting. It never moves backwards. Signature checks never use it: they always compare
 * against the real clock. {@link CloudControl#advanceClock} moves it through every scheduled firing
 * in between; {@link #stored} keeps its time in the catalog so a restart resumes it.
 *
 * <p>Thread-safe.
 */
public final class TestClock implements InstantSource {
    private final AtomicReference<Instant> now;
    private final Catalog store;

    public TestClock(Instant start) {
        this(start, null);
    }

    private TestClock(Instant start, Catalog store) {
        this.now = new AtomicReference<>(start);
        this.store = store;
    }

    /** A test clock kept in {@code catalog}: at the time it last had there, else the real time now. */
    public static TestClock stored(Catalog catalog) {
        Instant start = catalog.read(tx -> tx.first("SELECT now_ms FROM test_clock WHERE id = 1", rs -> Instant.ofEpochMilli(rs.getLong(1))))
                .orElse(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS)); // the catalog keeps milliseconds
        return new TestClock(start, catalog);
    }

    @Override
    public Instant instant() {
        return now.get();
    }

    /** Checks a step the way {@code AdvanceClock} needs it: positive. */
    static void requireForward(Duration step) {
        if (step.isNegative() || step.isZero()) {
            throw new ControlException.InvalidValue("Duration", ControlException.InvalidValue.Reason.VALUE,
                    "`Duration` must be positive: the clock only moves forward; got " + step);
        }
    }

    /** Moves the clock forward by {@code step} (positive) and returns the new time. */
    public Instant advance(Duration step) {
        requireForward(step);
        return moveTo(now.get().plus(step));
    }

    /** Moves the clock to {@code t} if that is later than now; returns the clock's time. */
    Instant moveTo(Instant t) {
        Instant moved = now.updateAndGet(cur -> t.isAfter(cur) ? t : cur);
        if (store != null) {
            long ms = moved.toEpochMilli();
            store.write(tx -> {
                if (tx.update("UPDATE test_clock SET now_ms = ? WHERE id = 1 AND now_ms < ?", ms, ms) == 0
                        && tx.count("SELECT COUNT(*) FROM test_clock WHERE id = 1") == 0) {
                    tx.update("INSERT INTO test_clock (id, now_ms) VALUES (1, ?)", ms);
                }
                return null;
            });
        }
        return moved;
    }
}
