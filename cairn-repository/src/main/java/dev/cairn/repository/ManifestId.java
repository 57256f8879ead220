package dev.cairn.repository;

/**
 * The id of a manifest: the content id of its root object. What a catalog stores per snapshot; what
 * {@link Repository#openManifest}, {@link Repository#deleteManifest} and GC pins take.
 */
public record ManifestId(ChunkId content) {

    public ManifestId {
        if (content == null || content.isZero()) throw new IllegalArgumentException("a manifest id cannot be zero");
    }

    /** Parses 64 hex digits (as {@link #toString()} prints). */
    public static ManifestId parse(String hex) {
        return new ManifestId(ChunkId.parse(hex));
    }

    @Override
    public String toString() {
        return content.toString();
    }

    /** The first 8 hex digits, for logs. */
    public String shortForm() {
        return content.shortForm();
    }
}
