package dev.cairn.repository.backend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * A store of immutable named objects: the only thing a repository needs from its storage.
 *
 * <p><b>Contract, for every implementation</b> (checked by the shared {@code BackendContract} tests):
 * <ul>
 *   <li><b>Durable on return.</b> When {@link #putIfAbsent} or {@link #delete} returns normally, the
 *       change survives a crash or power loss of this machine.</li>
 *   <li><b>Atomic visibility.</b> An object is visible in full or not at all: {@link #get} never
 *       returns a partial object, and a crash in the middle of a put leaves no object under the key.</li>
 *   <li><b>Immutable.</b> A put never replaces an existing object with different bytes. Keys are
 *       content addressed, so two puts of one key carry equivalent bytes; which of two racing puts
 *       wins does not matter.</li>
 *   <li><b>Thread-safe.</b> Every method may be called from many threads at once.</li>
 *   <li><b>Errors.</b> I/O failures throw {@link IOException}; a full backend throws
 *       {@link BackendFullException}, which is never retried. Implementations may retry transient
 *       network errors internally (the S3 SDK does).</li>
 * </ul>
 */
public interface Backend extends AutoCloseable {

    /**
     * Stores {@code bytes} (from position to limit; the buffer's position is not changed) under
     * {@code key} unless an object with that key exists. The implementation does not keep a reference
     * to {@code bytes} after returning (callers reuse the buffer).
     *
     * @return true if this call stored the object; false if the key already existed (the stored
     *     bytes are left unchanged and not compared). Two racing puts of one key may both return true
     *     on a backend without conditional puts; the stored bytes are equivalent either way.
     */
    boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException;

    /**
     * Reads a whole object.
     *
     * @return a buffer positioned at 0 whose remaining bytes are exactly the object
     * @throws NoSuchObjectException if there is no object under the key
     */
    ByteBuffer get(ObjectKey key) throws IOException;

    /**
     * Reads {@code length} bytes of an object from {@code offset}. The default reads the whole object;
     * backends that can read a range override it.
     *
     * @throws NoSuchObjectException if there is no object under the key
     * @throws java.io.EOFException if the object ends before {@code offset + length}
     */
    default ByteBuffer get(ObjectKey key, long offset, int length) throws IOException {
        ByteBuffer whole = get(key);
        if (offset < 0 || length < 0 || offset + length > whole.remaining()) {
            throw new java.io.EOFException("object " + key + " holds " + whole.remaining() + " bytes; asked for " + length + " at " + offset);
        }
        return whole.slice((int) offset, length);
    }

    /** True if an object exists under the key. */
    /**
     * A hint that these bytes of an object will be read soon: a backend may start fetching them in the
     * background (the local one asks the OS to read them ahead). Returns at once; never fails; by
     * default does nothing.
     */
    default void willRead(ObjectKey key, long offset, long length) {}

    boolean exists(ObjectKey key) throws IOException;

    /**
     * Calls {@code each} once per object of {@code kind}, in no particular order, with its size and
     * last-modified time. Objects put or deleted during the listing may or may not be reported.
     * An exception thrown by {@code each} stops the listing and propagates.
     */
    void list(ObjectKind kind, Consumer<ObjectInfo> each) throws IOException;

    /** Deletes the object; idempotent (deleting an absent object succeeds). Durable on return. */
    void delete(ObjectKey key) throws IOException;

    /**
     * A group of puts made durable together, for a writer that stores many objects before it needs
     * any of them (a capture's chunks, before its manifest). The default batch puts directly: each
     * object durable and visible on return, as {@link #putIfAbsent}.
     */
    default Batch batch() {
        Backend backend = this;
        return new Batch() {
            @Override public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException { return backend.putIfAbsent(key, bytes); }
            @Override public void commit() {}
            @Override public void close() {}
        };
    }

    /**
     * Puts that may be neither durable nor visible until {@link #commit}. Contract: after {@code commit}
     * returns, every put the batch accepted before the call is durable and visible, exactly as if
     * made with {@link Backend#putIfAbsent}; a crash before leaves each such object absent or whole,
     * never partial. {@code commit} may be called repeatedly (group commits). {@link #close} abandons
     * what was not committed. Thread-safe; a put racing with a commit is covered by that commit or
     * the next.
     */
    interface Batch extends AutoCloseable {
        /** As {@link Backend#putIfAbsent}; also false if this batch already holds the key. */
        boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException;

        /** True if this batch holds an uncommitted put of the key (so its bytes need not be made again). */
        default boolean holds(ObjectKey key) {
            return false;
        }

        void commit() throws IOException;

        @Override
        void close();
    }

    /** Where this backend stores, for logs and messages, e.g. {@code local:/srv/repo}. */
    String describe();

    /** Releases resources (locks, connections). Idempotent. Objects stay where they are. */
    @Override
    void close() throws IOException;
}
