package dev.cairn.repository.backend;

import java.time.Instant;

/**
 * What a listing says about one object: its key, its stored size in bytes and when it was last
 * written (local: file mtime; S3: {@code LastModified}, second precision). GC's grace rule compares
 * {@code lastModified} with its cutoff.
 */
public record ObjectInfo(ObjectKey key, long size, Instant lastModified) {
    public ObjectInfo {
        if (key == null || lastModified == null) throw new IllegalArgumentException("key and lastModified are required");
        if (size < 0) throw new IllegalArgumentException("negative size " + size);
    }
}
