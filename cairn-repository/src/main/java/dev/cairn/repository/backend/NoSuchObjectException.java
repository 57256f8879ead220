package dev.cairn.repository.backend;

import java.io.IOException;

/** {@link Backend#get} found no object under the key. Carries the key so callers can report it. */
public final class NoSuchObjectException extends IOException {
    private final transient ObjectKey key;

    public NoSuchObjectException(ObjectKey key, String where) {
        super("no such object: " + key + " in " + where);
        this.key = key;
    }

    public ObjectKey key() {
        return key;
    }
}
