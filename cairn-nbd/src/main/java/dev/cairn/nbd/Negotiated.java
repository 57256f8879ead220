package dev.cairn.nbd;

/**
 * What the options phase settled for one connection, fixed for the rest of it: the export, its size and
 * transmission flags as sent to the client, whether structured replies are on, and whether the
 * {@code base:allocation} context was selected for this very export.
 */
record Negotiated(Export export, long size, int txFlags, boolean structured, boolean baseAllocation) {

    /**
     * Transmission flags, computed once per connection from the volume's capabilities (§3 of the protocol
     * reference). CAN_MULTI_CONN is true because all connections to one disk share one Volume, whose
     * flush covers every connection's writes. DF only with structured replies (it needs chunks).
     */
    static int txFlags(boolean readOnly, boolean structured) {
        int flags = Nbd.TX_HAS_FLAGS | Nbd.TX_SEND_FLUSH | Nbd.TX_CAN_MULTI_CONN | Nbd.TX_SEND_CACHE;
        flags |= readOnly
                ? Nbd.TX_READ_ONLY
                : Nbd.TX_SEND_FUA | Nbd.TX_SEND_TRIM | Nbd.TX_SEND_WRITE_ZEROES | Nbd.TX_SEND_FAST_ZERO;
        if (structured) flags |= Nbd.TX_SEND_DF;
        return flags;
    }
}
