package dev.cairn.control;

/**
 * Tencent's snapshot states that Cairn uses (a failed capture's row is removed: Tencent has no FAILED).
 * TORECYCLE: deleted into the recycle bin, recoverable until purged. COPYING_FROM_REMOTE, CHECKING_COPIED: a
 * copy arriving from another region, then being verified ({@link CopyReceiver}).
 */
public enum SnapshotState {
    CREATING, NORMAL, ROLLBACKING, TORECYCLE, COPYING_FROM_REMOTE, CHECKING_COPIED
}
