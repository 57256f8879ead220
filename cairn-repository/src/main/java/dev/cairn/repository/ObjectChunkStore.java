package dev.cairn.repository;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;

/** Format 1: every chunk is a backend object of its own, {@code chunks/<4 hex>/<id>}. */
final class ObjectChunkStore implements ChunkStore {

    private final Backend backend;

    ObjectChunkStore(Backend backend) {
        this.backend = backend;
    }

    private static ObjectKey key(ChunkId id) {
        return ChunkCodec.Type.CHUNK.keyOf(id);
    }

    @Override
    public Writes writes(Backend.Batch batch) {
        return new Writes() {
            @Override
            public boolean holds(ChunkId id) {
                return batch.holds(key(id));
            }

            @Override
            public boolean put(ChunkId id, ByteBuffer encoded) throws IOException {
                ObjectKey key = key(id);
                return !batch.holds(key) && !backend.exists(key) && batch.putIfAbsent(key, encoded);
            }
        };
    }

    @Override
    public boolean contains(ChunkId id) throws IOException {
        return backend.exists(key(id));
    }

    @Override
    public ByteBuffer get(ChunkId id) throws IOException {
        return backend.get(key(id));
    }

    /** Each chunk is its own object: a hint per object (a chunk is at most a block, so Integer.MAX_VALUE covers it). */
    @Override
    public void willRead(ChunkId[] ids) {
        for (ChunkId id : ids) backend.willRead(key(id), 0, Integer.MAX_VALUE);
    }

    @Override
    public void list(Consumer<ObjectInfo> each) throws IOException {
        backend.list(ObjectKind.CHUNK, each);
    }

    @Override
    public void delete(ChunkId id) throws IOException {
        backend.delete(key(id));
    }
}
