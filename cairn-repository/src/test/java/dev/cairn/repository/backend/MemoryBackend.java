package dev.cairn.repository.backend;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * A backend in a map, for tests: same contract as the real ones (it runs {@link BackendContract}),
 * object times from an injected clock. {@link #replace} lets corruption tests damage an object.
 * Thread-safe.
 */
public final class MemoryBackend implements Backend {

    private record Stored(byte[] bytes, Instant written) {}

    private final Map<ObjectKey, Stored> objects = new ConcurrentHashMap<>();
    private final InstantSource clock;

    public MemoryBackend(InstantSource clock) {
        this.clock = clock;
    }

    public MemoryBackend() {
        this(InstantSource.system());
    }

    @Override
    public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) {
        byte[] copy = new byte[bytes.remaining()];
        bytes.duplicate().get(copy);
        return objects.putIfAbsent(key, new Stored(copy, clock.instant())) == null;
    }

    @Override
    public ByteBuffer get(ObjectKey key) throws IOException {
        Stored s = objects.get(key);
        if (s == null) throw new NoSuchObjectException(key, describe());
        return ByteBuffer.wrap(s.bytes().clone());
    }

    @Override
    public boolean exists(ObjectKey key) {
        return objects.containsKey(key);
    }

    @Override
    public void list(ObjectKind kind, Consumer<ObjectInfo> each) {
        for (var e : List.copyOf(objects.entrySet())) {
            if (e.getKey().kind() == kind) each.accept(new ObjectInfo(e.getKey(), e.getValue().bytes().length, e.getValue().written()));
        }
    }

    @Override
    public void delete(ObjectKey key) {
        objects.remove(key);
    }

    @Override
    public String describe() {
        return "memory";
    }

    @Override
    public void close() {}

    /** Test hook: overwrites an object's bytes in place (simulates corruption), keeping its time. */
    public void replace(ObjectKey key, byte[] bytes) {
        objects.computeIfPresent(key, (k, old) -> new Stored(bytes.clone(), old.written()));
    }

    /** Number of objects of a kind. */
    public int count(ObjectKind kind) {
        return (int) objects.keySet().stream().filter(k -> k.kind() == kind).count();
    }
}
