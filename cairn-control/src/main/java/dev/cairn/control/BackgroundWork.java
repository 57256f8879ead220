package dev.cairn.control;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where snapshot work that outlives an API call runs — captures, rollbacks, flattens: one virtual
 * thread per task, counted so tests and shutdown can wait for it. A failure is logged, never lost
 * silently; work submitted while stopping is not started (recovery picks it up at the next start).
 */
final class BackgroundWork implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackgroundWork.class);

    private final ExecutorService executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("snapshot-", 0).factory());
    private final AtomicInteger running = new AtomicInteger();
    private volatile boolean closing;

    @FunctionalInterface
    interface Work {
        void run() throws Exception;
    }

    void submit(String what, Work work) {
        running.incrementAndGet();
        try {
            executor.execute(() -> run(what, work));
        } catch (RejectedExecutionException e) {
            running.decrementAndGet();
            log.warn("server stopping; not started: {} (resumes on the next start)", what);
        }
    }

    /**
     * Runs long, CPU-heavy work on a platform thread of its own, so it can lower its own priority (a
     * virtual thread shares carriers with everything else). Not started while stopping.
     */
    void submitOnOwnThread(String what, Work work) {
        if (closing) {
            log.warn("server stopping; not started: {} (resumes on the next start)", what);
            return;
        }
        running.incrementAndGet();
        Thread.ofPlatform().name(what.replace(' ', '-')).daemon(true).start(() -> run(what, work));
    }

    private void run(String what, Work work) {
        try {
            work.run();
        } catch (Exception | Error e) {
            log.error("background snapshot work failed: {}", what, e);
        } finally {
            running.decrementAndGet();
        }
    }

    /** True once the server is stopping: long work should end soon. */
    boolean closing() {
        return closing;
    }

    /** Marks the start of a stop; the owners then ask their work to end, and {@link #close} waits for it. */
    void stopping() {
        closing = true;
    }

    boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (running.get() > 0) {
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(10);
        }
        return true;
    }

    /** Waits (up to 30 s) for the work in flight; owners have asked it to end ({@link #stopping}). */
    @Override
    public void close() {
        closing = true;
        executor.shutdown();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS) || !awaitIdle(java.time.Duration.ofSeconds(30))) {
                log.warn("snapshot work still running after 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
