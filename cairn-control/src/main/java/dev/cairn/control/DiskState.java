package dev.cairn.control;

/**
 * Tencent's disk states that Cairn uses. TORECYCLE is only seen while a terminated disk's file is
 * removed; ROLLBACKING while a disk is being laid over a snapshot (instant, then flattened in the
 * background while the disk is already back in use).
 */
public enum DiskState {
    UNATTACHED, ATTACHING, ATTACHED, DETACHING, EXPANDING, TORECYCLE, ROLLBACKING;

    /** In a transition that background work will finish. */
    public boolean transitional() {
        return this == ATTACHING || this == DETACHING || this == EXPANDING || this == TORECYCLE || this == ROLLBACKING;
    }
}
