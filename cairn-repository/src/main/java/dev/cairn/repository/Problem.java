package dev.cairn.repository;

import dev.cairn.repository.backend.ObjectKey;

/**
 * One thing {@link Repository#verify} found wrong, naming the object (restic's checker style).
 *
 * @param key the damaged or missing object
 * @param detail what is wrong, and who refers to the object when known
 */
public record Problem(ObjectKey key, Kind kind, String detail) {

    /** The closed set of problem kinds. */
    public enum Kind {
        /** Referenced (or required, like the config) but absent. */
        MISSING,
        /** Present but fails decoding or verification: magic, tag, content id, layout. */
        CORRUPT,
        /** Could not be read (an I/O error other than absence). */
        UNREADABLE
    }

    @Override
    public String toString() {
        return kind + " " + key + ": " + detail;
    }
}
