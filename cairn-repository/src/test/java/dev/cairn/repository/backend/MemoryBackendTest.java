package dev.cairn.repository.backend;

class MemoryBackendTest extends BackendContract {
    @Override
    protected Backend newBackend() {
        return new MemoryBackend();
    }
}
