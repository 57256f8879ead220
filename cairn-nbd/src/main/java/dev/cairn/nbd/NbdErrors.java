package dev.cairn.nbd;

import dev.cairn.volume.ReadOnlyVolumeException;
import dev.cairn.volume.VolumeFullException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;

/**
 * The only place a failure becomes an NBD error code (nbdkit's {@code nbd_errno}). The client sees just
 * the code, so the real cause is logged here first: at WARN for server-side failures (EIO, ENOSPC), at
 * DEBUG for failures the client caused (EPERM, EINVAL). Stateless and thread-safe.
 */
final class NbdErrors {
    private static final Logger log = LoggerFactory.getLogger(NbdErrors.class);

    private NbdErrors() {}

    /**
     * Maps a failure of a volume call to the NBD error sent for it, after logging it.
     *
     * @param what printable description of the request (command, offset, length), for the log line
     */
    static int toWire(Throwable failure, String what) {
        int code = classify(failure);
        if (code == Nbd.EIO || code == Nbd.ENOSPC) {
            log.warn("{} failed, answering {}", what, Nbd.errName(code), failure);
        } else {
            log.debug("{} failed, answering {}: {}", what, Nbd.errName(code), failure.toString());
        }
        return code;
    }

    static int classify(Throwable failure) {
        return switch (failure) {
            case ReadOnlyVolumeException e -> Nbd.EPERM;
            case IllegalArgumentException e -> Nbd.EINVAL;
            case ClosedChannelException e -> Nbd.ESHUTDOWN;   // the volume was closed under us: the disk is going away
            case VolumeFullException e -> Nbd.ENOSPC;       // ENOSPC, EDQUOT, EFBIG: "no room", as nbdkit maps them
            default -> Nbd.EIO;
        };
    }
}
