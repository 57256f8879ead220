package dev.cairn.control;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The clock of {@code cairn serve --test-clock}: it starts at the real time and then moves only when
 * told to ({@link #advance}), so time-driven behaviour (create times, and later schedules, retention and
 * billing hours) can be tested without waiting. It never moves backwards. Signature checks never use
 * it: they always compare against the real clock.
 *
 * <p>Thread-safe.
 */
public final class TestClock implements InstantSource {
    private final AtomicReference<Instant> now;

    public TestClock(Instant start) {
        this.now = new AtomicReference<>(start);
    }

    @Override
    public Instant instant() {
        return now.get();
    }

    /** Moves the clock forward by {@code step} (positive) and returns the new time. */
    public Instant advance(Duration step) {
        if (step.isNegative() || step.isZero()) {
            throw new ControlException.InvalidValue("Duration", ControlException.InvalidValue.Reason.VALUE,
                    "`Duration` must be positive: the clock only moves forward; got " + step);
        }
        return now.updateAndGet(t -> t.plus(step));
    }
}
