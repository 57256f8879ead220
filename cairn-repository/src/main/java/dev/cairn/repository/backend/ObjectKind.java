package dev.cairn.repository.backend;

/**
 * The closed set of object kinds a repository stores. Each kind has its own key space (a directory
 * locally, a key prefix on S3), so listing one kind never reads another.
 *
 * <p>Layout (see {@code docs/repository-format.md} §2): {@code config}, {@code config.copy} at the top;
 * {@code manifests/<id>}; {@code pages/<2 hex>/<id>}; {@code chunks/<4 hex>/<id>} (format 1);
 * {@code packs/<2 hex>/<id>} and {@code index/<id>} (format 2); {@code deleted/<manifest id>}.
 */
public enum ObjectKind {
    /** The repository config and its copy; small text objects at the top level. */
    CONFIG("", 0),
    /** Manifest roots, one per snapshot. */
    MANIFEST("manifests", 0),
    /** Manifest pages. */
    PAGE("pages", 2),
    /** Chunks: the stored content of blocks. */
    CHUNK("chunks", 4),
    /** Packs: many chunks in one object (format 2). */
    PACK("packs", 2),
    /** Index objects: where the chunks of some packs are (format 2; a cache of the packs' trailers). */
    INDEX("index", 0),
    /**
     * Deletion markers, named by a manifest id: the snapshot that manifest's metadata names was deleted,
     * and the root stays only as a disk's parent or base. Empty objects.
     */
    DELETED("deleted", 0);

    private final String directory;
    private final int fanOutDigits;

    ObjectKind(String directory, int fanOutDigits) {
        this.directory = directory;
        this.fanOutDigits = fanOutDigits;
    }

    /** The directory (or key prefix) holding this kind; empty for {@link #CONFIG}. */
    public String directory() {
        return directory;
    }

    /** How many leading hex digits of the name form the fan-out sub-directory (0 = none). */
    public int fanOutDigits() {
        return fanOutDigits;
    }

    /** True if {@code name} is a well-formed object name of this kind. */
    public boolean isValidName(String name) {
        if (this == CONFIG) return name.equals("config") || name.equals("config.copy");
        if (name.length() != 64) return false;
        for (int i = 0; i < 64; i++) {
            char c = name.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        }
        return true;
    }
}
