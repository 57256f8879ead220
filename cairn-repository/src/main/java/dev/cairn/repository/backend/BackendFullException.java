package dev.cairn.repository.backend;

import java.io.IOException;

/**
 * The backend has no space left (local: {@code ENOSPC} or {@code EDQUOT}). Not transient: retrying
 * cannot help until an operator frees space, so nothing retries it. The failed put left no object
 * and no temp file behind.
 */
public final class BackendFullException extends IOException {
    public BackendFullException(String message, Throwable cause) {
        super(message, cause);
    }
}
