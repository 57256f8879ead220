package dev.cairn.repository;

/** The passphrase or key file does not unlock this repository's master key (or none was given). */
public final class WrongKeyException extends RepositoryException {
    public WrongKeyException(String message) {
        super(message);
    }
}
