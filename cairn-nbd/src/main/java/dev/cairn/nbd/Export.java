package dev.cairn.nbd;

import dev.cairn.volume.Volume;

/**
 * One connection's handle on an export, from {@link ExportRegistry#open}. Read-only-ness comes from
 * {@code volume().readOnly()}. The server calls {@link #close()} exactly once, when the connection that
 * opened it ends, after its last request has finished; it must not throw for ordinary reasons.
 */
public interface Export extends AutoCloseable {
    /** Canonical name (sent as NBD_INFO_NAME; may differ from what the client asked for, e.g. ""). */
    String name();

    /** Human-readable description (NBD_INFO_DESCRIPTION); empty for none. */
    String description();

    /** The bytes served. All connections to one disk should share one Volume (NBD's CAN_MULTI_CONN). */
    Volume volume();

    @Override
    void close();
}
