/**
 * The snapshot repository: content-addressed chunks, paged manifests, verify and garbage collection,
 * over a small {@link dev.cairn.repository.backend.Backend} (local directory or S3).
 *
 * <p>The format is specified in {@code docs/repository-format.md}; the block size choice is explained
 * in {@code docs/block-size.md}. Start at {@link dev.cairn.repository.Repository}.
 *
 * <p>Entry points for the snapshot engine: {@link dev.cairn.repository.Repository#create},
 * {@link dev.cairn.repository.Repository#open}, {@link dev.cairn.repository.Repository#newManifest}
 * ({@link dev.cairn.repository.ManifestWriter}), {@link dev.cairn.repository.Repository#openManifest}
 * ({@link dev.cairn.repository.ManifestReader}), {@link dev.cairn.repository.Repository#verify},
 * {@link dev.cairn.repository.Repository#garbageCollector}, {@link dev.cairn.repository.Repository#spaceAccounting}.
 */
package dev.cairn.repository;
