package dev.cairn.control;

/**
 * Who is asking: the authenticated account, whether it is the admin, and the API request id that
 * operation records and {@code LatestOperationRequestId} carry.
 */
public record Caller(long accountId, boolean admin, String requestId) {
    public Caller {
        if (requestId == null) throw new IllegalArgumentException("requestId");
    }
}
