package dev.cairn.repository;

import java.time.Duration;
import java.util.List;

/**
 * The outcome of {@link Repository#verify}: every problem found (verification never stops at the
 * first), and how much was checked.
 *
 * @param unreferencedChunks chunks no manifest references (garbage awaiting GC; not a problem)
 */
public record VerifyReport(List<Problem> problems, int manifests, int pages, long chunks, long chunksRead, long bytesRead,
                           long unreferencedChunks, Duration duration) {

    public VerifyReport {
        problems = List.copyOf(problems);
    }

    /** True when no problem was found. */
    public boolean ok() {
        return problems.isEmpty();
    }
}
