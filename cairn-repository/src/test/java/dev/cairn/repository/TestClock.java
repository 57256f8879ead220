package dev.cairn.repository;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/** A clock tests move by hand. Thread-safe. */
final class TestClock implements InstantSource {
    private final AtomicReference<Instant> now;
    private final Duration tick;

    TestClock(Instant start) {
        this(start, Duration.ZERO);
    }

    /** A clock that also moves forward by {@code tick} at every reading. */
    TestClock(Instant start, Duration tick) {
        now = new AtomicReference<>(start);
        this.tick = tick;
    }

    TestClock() {
        this(Instant.parse("2026-11-26T08:00:00Z"));
    }

    @Override
    public Instant instant() {
        return tick.isZero() ? now.get() : now.getAndUpdate(t -> t.plus(tick));
    }

    void advance(Duration d) {
        now.updateAndGet(t -> t.plus(d));
    }
}
