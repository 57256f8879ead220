/**
 * The storage interface of the repository ({@link dev.cairn.repository.backend.Backend}) and its value
 * types. One sub-package per implementation: {@code local} (a directory) and {@code s3}. Every
 * implementation passes the shared {@code BackendContract} test suite.
 */
package dev.cairn.repository.backend;
