package dev.cairn.repository;

import java.io.IOException;

/**
 * A repository-level failure that is not a plain I/O error: corruption, a wrong key, a format this
 * code does not understand. The set is closed; callers can switch over it.
 */
public abstract sealed class RepositoryException extends IOException
        permits CorruptObjectException, WrongKeyException, UnsupportedFormatException {
    RepositoryException(String message) {
        super(message);
    }

    RepositoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
