package dev.cairn.repository;

/** Every {@link RepositoryTest} on format 1 (a backend object per chunk), which older repositories use. */
class RepositoryFormat1Test extends RepositoryTest {
    @Override
    RepositoryOptions baseOptions() {
        return RepositoryOptions.defaults().withFormatVersion(RepositoryConfig.FORMAT_CHUNK_OBJECTS);
    }
}
