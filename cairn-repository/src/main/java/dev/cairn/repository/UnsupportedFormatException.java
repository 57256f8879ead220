package dev.cairn.repository;

/** The repository (or one object) uses a format version or algorithm this code does not know. */
public final class UnsupportedFormatException extends RepositoryException {
    public UnsupportedFormatException(String message) {
        super(message);
    }
}
