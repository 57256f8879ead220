package dev.cairn.control;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.BackendFullException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A real backend with switchable faults: writes fail as on a full disk, or every call fails as on an
 * unreachable S3. Counts calls so tests can bound what an operation costs.
 */
final class FaultyBackend implements Backend {
    enum Fault { NONE, FULL, UNREACHABLE }

    private final Backend inner;
    volatile Fault fault = Fault.NONE;
    final AtomicLong puts = new AtomicLong();
    final AtomicLong gets = new AtomicLong();
    final AtomicLong lists = new AtomicLong();
    final AtomicLong deletes = new AtomicLong();

    FaultyBackend(Backend inner) {
        this.inner = inner;
    }

    private void check(boolean write) throws IOException {
        switch (fault) {
            case FULL -> { if (write) throw new BackendFullException("repository storage is full (test)", null); }
            case UNREACHABLE -> throw new IOException("connection refused (test: the store is unreachable)");
            case NONE -> { }
        }
    }

    @Override public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException { check(true); puts.incrementAndGet(); return inner.putIfAbsent(key, bytes); }
    @Override public ByteBuffer get(ObjectKey key) throws IOException { check(false); gets.incrementAndGet(); return inner.get(key); }
    @Override public boolean exists(ObjectKey key) throws IOException { check(false); gets.incrementAndGet(); return inner.exists(key); }
    @Override public void list(ObjectKind kind, Consumer<ObjectInfo> each) throws IOException { check(false); lists.incrementAndGet(); inner.list(kind, each); }
    @Override public void delete(ObjectKey key) throws IOException { check(true); deletes.incrementAndGet(); inner.delete(key); }
    @Override public String describe() { return "faulty " + inner.describe(); }
    @Override public void close() throws IOException { inner.close(); }

    long calls() {
        return puts.get() + gets.get() + lists.get() + deletes.get();
    }
}
