/** The S3 backend: AWS SDK v2 sync client on HttpURLConnection, path-style, conditional puts. */
package dev.cairn.repository.backend.s3;
