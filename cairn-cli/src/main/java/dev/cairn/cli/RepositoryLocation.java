package dev.cairn.cli;

import dev.cairn.repository.Repository;
import dev.cairn.repository.RepositoryKey;
import dev.cairn.repository.RepositoryOptions;
import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.local.LocalBackend;
import dev.cairn.repository.backend.s3.S3Backend;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Where {@code cairn serve} keeps snapshots ({@code --repository}): a directory (default
 * {@code DATA/repository}) or {@code s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&attempts=N]} with the keys in
 * {@code CAIRN_S3_ACCESS_KEY_ID}/{@code CAIRN_S3_SECRET_ACCESS_KEY} (or AWS_ACCESS_KEY_ID/
 * AWS_SECRET_ACCESS_KEY). The repository is created on first use — encrypted if a key file is given —
 * and opened afterwards (with the same key file).
 */
final class RepositoryLocation {
    private RepositoryLocation() {}

    /** @param blockSize block size for a new repository, or 0 for the default */
    static Repository openOrCreate(String location, Path dataDir, Path keyFile, int blockSize, Map<String, String> env) throws IOException {
        Backend backend = backend(location, dataDir, env);
        RepositoryKey key = keyFile == null ? null : new RepositoryKey.KeyFile(keyFile);
        if (Repository.exists(backend)) return Repository.open(backend, key);
        RepositoryOptions options = RepositoryOptions.defaults();
        if (blockSize != 0) options = options.withBlockSize(blockSize);
        if (key != null) options = options.withKey(key);
        return Repository.create(backend, options);
    }

    static Backend backend(String location, Path dataDir, Map<String, String> env) throws IOException {
        if (location == null || location.isBlank()) return LocalBackend.open(dataDir.resolve("repository"));
        if (!location.startsWith("s3://")) {
            String path = location.startsWith("file:") ? URI.create(location).getPath() : location;
            return LocalBackend.open(Path.of(path).toAbsolutePath());
        }
        URI uri = URI.create(location);
        String bucket = uri.getHost();
        if (bucket == null || bucket.isBlank()) throw new IllegalArgumentException("--repository s3://BUCKET/… needs a bucket name");
        String prefix = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
        Map<String, String> query = query(uri.getRawQuery());
        String endpoint = query.get("endpoint");
        String access = env.getOrDefault("CAIRN_S3_ACCESS_KEY_ID", env.get("AWS_ACCESS_KEY_ID"));
        String secret = env.getOrDefault("CAIRN_S3_SECRET_ACCESS_KEY", env.get("AWS_SECRET_ACCESS_KEY"));
        if (access == null || secret == null) {
            throw new IllegalArgumentException("an s3:// repository needs CAIRN_S3_ACCESS_KEY_ID and CAIRN_S3_SECRET_ACCESS_KEY in the environment");
        }
        S3Backend.Options options = S3Backend.Options.of(endpoint == null ? null : URI.create(endpoint), bucket, access, secret).withPrefix(prefix);
        if (query.containsKey("region")) options = options.withRegion(query.get("region"));
        if (query.containsKey("attempts")) {
            String tries = query.get("attempts");
            if (!tries.matches("[0-9]{1,3}")) throw new IllegalArgumentException("--repository …&attempts=N needs a number of tries (1..100), not '" + tries + "'");
            options = options.withAttempts(Integer.parseInt(tries));
        }
        if ("true".equals(query.get("create-bucket"))) options = options.withCreateBucket(true);
        return S3Backend.open(options);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null) return out;
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) continue;
            out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }
}
