package dev.cairn.repository;

/** Every {@link GarbageCollectorTest} on format 1 (a backend object per chunk), which older repositories use. */
class GarbageCollectorFormat1Test extends GarbageCollectorTest {
    @Override
    RepositoryOptions options() {
        return RepositoryOptions.defaults().withFormatVersion(RepositoryConfig.FORMAT_CHUNK_OBJECTS);
    }
}
