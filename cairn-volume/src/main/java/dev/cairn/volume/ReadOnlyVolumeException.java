package dev.cairn.volume;

import java.io.IOException;

/** A write-like call on a read-only volume (a snapshot export). NBD answers it with EPERM. */
public final class ReadOnlyVolumeException extends IOException {
    public ReadOnlyVolumeException(String volume) {
        super("volume " + volume + " is read-only");
    }
}
