package dev.cairn.volume;

import java.io.IOException;
import java.util.Locale;

/**
 * The file system under a volume has no room (ENOSPC, EDQUOT, EFBIG). NBD answers it with ENOSPC; the
 * write did not happen (or happened in part, as on a full disk), and nothing already written is lost.
 */
public final class VolumeFullException extends IOException {
    public VolumeFullException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Returns {@code e} as a VolumeFullException when it means "no room". {@link java.nio.channels.FileChannel}
     * reports only the C library's text, so this is the one place that reads it.
     */
    static IOException classify(IOException e, String volume) {
        if (e instanceof VolumeFullException) return e;
        if (e instanceof NativeFile.NativeIOException n && (n.errno == NativeFile.ENOSPC || n.errno == NativeFile.EDQUOT || n.errno == NativeFile.EFBIG)) {
            return new VolumeFullException("no space for volume " + volume + ": " + e.getMessage(), e);
        }
        String m = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
        if (m.contains("no space left") || m.contains("disk quota exceeded") || m.contains("file too large")) {
            return new VolumeFullException("no space for volume " + volume + ": " + e.getMessage(), e);
        }
        return e;
    }
}
