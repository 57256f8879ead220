package dev.cairn.control;

import java.time.Instant;

/**
 * One entry of the operation log: who ({@code accountId}, {@code requestId}) did what ({@code action})
 * to which resource, when, and the result ({@code SUCCESS}, {@code FAILED}, or {@code PROCESSING} while
 * background work runs). {@code finishedAt} is null while processing.
 */
public record OperationRecord(long accountId, String action, String resourceId, String requestId, String state,
                              Instant startedAt, Instant finishedAt, String detail) {}
