/** The local-directory backend: durable write-then-link puts, PBS-style fan-out, crash cleanup on open. */
package dev.cairn.repository.backend.local;
