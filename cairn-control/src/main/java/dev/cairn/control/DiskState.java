package dev.cairn.control;

/** Tencent's disk states that Cairn uses. TORECYCLE is only seen while a terminated disk's file is removed. */
public enum DiskState {
    UNATTACHED, ATTACHING, ATTACHED, DETACHING, EXPANDING, TORECYCLE;

    /** In a transition that background work will finish. */
    public boolean transitional() {
        return this == ATTACHING || this == DETACHING || this == EXPANDING || this == TORECYCLE;
    }
}
