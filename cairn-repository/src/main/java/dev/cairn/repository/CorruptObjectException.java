package dev.cairn.repository;

import dev.cairn.repository.backend.ObjectKey;

/** An object's bytes fail a check (magic, flags, length, tag, content id, layout). Names the object. */
public final class CorruptObjectException extends RepositoryException {
    private final transient ObjectKey key;

    public CorruptObjectException(ObjectKey key, String detail) {
        super("corrupt object " + key + ": " + detail);
        this.key = key;
    }

    public CorruptObjectException(ObjectKey key, String detail, Throwable cause) {
        super("corrupt object " + key + ": " + detail, cause);
        this.key = key;
    }

    /** The damaged object. */
    public ObjectKey key() {
        return key;
    }
}
