package dev.cairn.repository.backend.s3;

import dev.cairn.repository.backend.Backend;

/** The backend contract for stores without conditional puts: HEAD-then-PUT, no key prefix (same server set-up). */
class S3BackendHeadThenPutTest extends S3BackendTest {
    @Override
    protected Backend newBackend() throws Exception {
        options = server.newBucketOptions().withListPageSize(100).withConditionalPut(false);
        return S3Backend.open(options);
    }
}
