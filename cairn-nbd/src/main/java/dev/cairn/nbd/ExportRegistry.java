package dev.cairn.nbd;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * What the rest of Cairn gives the NBD server: the exports it may serve. The server holds no other
 * knowledge of disks or snapshots.
 *
 * <p><b>Threads.</b> Called from many connection threads at once; implementations must be thread-safe.
 * {@link #open} is called once per NBD_OPT_INFO, NBD_OPT_GO or NBD_OPT_EXPORT_NAME (never for a bare TCP
 * connect), so it may do real work such as taking a lease on a volume.
 */
public interface ExportRegistry {
    /**
     * Opens the named export for one connection, or empty if it does not exist / is not served now.
     * The server calls {@link Export#close()} when the connection ends (or right after NBD_OPT_INFO),
     * however it ends.
     */
    Optional<Export> open(String name) throws IOException;

    /** Names (and descriptions) for NBD_OPT_LIST. Should name every export a client may ask for (qemu relies on it). */
    List<ExportInfo> list();
}
