package dev.cairn.control;

/**
 * Tencent's snapshot states that Cairn uses (a failed capture's row is removed: Tencent has no FAILED).
 * TORECYCLE: deleted into the recycle bin, recoverable until purged.
 */
public enum SnapshotState {
    CREATING, NORMAL, ROLLBACKING, TORECYCLE
}
