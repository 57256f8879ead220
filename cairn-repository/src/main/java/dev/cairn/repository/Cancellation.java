package dev.cairn.repository;

import java.util.concurrent.CancellationException;

/**
 * A cancellation flag for long loops (verify, GC, space accounting). Any thread may {@link #cancel()};
 * the loop calls {@link #check()} between objects and stops with {@link CancellationException}. An
 * interrupt of the looping thread counts as a cancellation too.
 */
public final class Cancellation {
    private volatile boolean cancelled;

    /** A token that is never cancelled (interrupts still stop the loop). */
    public static Cancellation none() {
        return new Cancellation();
    }

    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled || Thread.currentThread().isInterrupted();
    }

    /** Throws if cancelled or interrupted. */
    public void check() {
        if (isCancelled()) throw new CancellationException("cancelled");
    }
}
