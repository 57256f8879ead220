package dev.cairn.nbd;

import dev.cairn.volume.SparseFileVolume;
import dev.cairn.volume.Volume;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test registry: like Cairn's, every connection to a name shares one Volume, and {@link Export#close}
 * only releases the connection's handle. Counts opens and closes so tests can check nothing leaks.
 */
final class TestExports implements ExportRegistry, AutoCloseable {
    private record Entry(String description, Volume volume) {}

    private final Map<String, Entry> exports = new ConcurrentHashMap<>();
    final AtomicInteger opened = new AtomicInteger();
    final AtomicInteger closed = new AtomicInteger();

    TestExports add(String name, Volume volume) {
        return add(name, "", volume);
    }

    TestExports add(String name, String description, Volume volume) {
        exports.put(name, new Entry(description, volume));
        return this;
    }

    /** A new sparse file {@code dir/name.raw} of {@code size} bytes, served as {@code name}. */
    SparseFileVolume addFile(Path dir, String name, long size) throws IOException {
        SparseFileVolume v = SparseFileVolume.create(dir.resolve(name + ".raw"), size);
        add(name, "test disk " + name, v);
        return v;
    }

    /** An existing file served read-only as {@code name}. */
    SparseFileVolume addReadOnlyFile(Path file, String name) throws IOException {
        SparseFileVolume v = SparseFileVolume.open(file, true);
        add(name, "read-only " + name, v);
        return v;
    }

    Volume volume(String name) {
        return exports.get(name).volume();
    }

    void remove(String name) {
        exports.remove(name);
    }

    /** Exports opened and not yet closed. */
    int openNow() {
        return opened.get() - closed.get();
    }

    @Override
    public Optional<Export> open(String name) {
        Entry e = exports.get(name);
        if (e == null) return Optional.empty();
        opened.incrementAndGet();
        AtomicInteger once = new AtomicInteger();
        return Optional.of(new Export() {
            @Override public String name() { return name; }
            @Override public String description() { return e.description(); }
            @Override public Volume volume() { return e.volume(); }
            @Override public void close() {
                if (once.getAndIncrement() != 0) throw new AssertionError("export " + name + " closed twice");
                closed.incrementAndGet();
            }
        });
    }

    @Override
    public List<ExportInfo> list() {
        return exports.entrySet().stream().map(e -> new ExportInfo(e.getKey(), e.getValue().description())).sorted(
                java.util.Comparator.comparing(ExportInfo::name)).toList();
    }

    @Override
    public void close() throws java.io.IOException {
        for (Entry e : exports.values()) e.volume().close();
    }
}
