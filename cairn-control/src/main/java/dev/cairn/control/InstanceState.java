package dev.cairn.control;

/**
 * Tencent's instance states that Cairn uses. An instance is an attachment target, not a VM: the
 * states say whether its disks are served over NBD ({@link #servesDisks}).
 */
public enum InstanceState {
    PENDING, RUNNING, STARTING, STOPPING, STOPPED, REBOOTING, TERMINATING;

    /** Disks attached to an instance in this state are exported over NBD. */
    public boolean servesDisks() {
        return this == PENDING || this == RUNNING || this == STARTING || this == REBOOTING;
    }

    public boolean transitional() {
        return this == PENDING || this == STARTING || this == STOPPING || this == REBOOTING || this == TERMINATING;
    }
}
