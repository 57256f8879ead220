package dev.cairn.repository.backend.s3;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.BackendFullException;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * A repository in an S3 bucket (any S3-compatible store), keys as {@code docs/repository-format.md}
 * §2 says, under an optional prefix.
 *
 * <p><b>What stays true.</b> S3 PUTs are atomic (a reader sees a whole object or none) and durable when
 * answered 200. Put-if-absent sends {@code If-None-Match: *}: 412 (or 409, a concurrent conditional
 * put of the same key) means "already present" — unless the object carries this put's own random
 * token ({@code x-amz-meta-cairn-put}), which happens when a request whose response was lost is sent
 * again; a HEAD on 412 tells the two apart, so "stored now" is exact. S3Proxy 4.1 and AWS honour the header; for a store
 * that ignores it, {@link Options#conditionalPut()} = false switches to HEAD-then-PUT, where two racing
 * puts of one key may both store — the bytes are equivalent (content addressed), so that is harmless.
 *
 * <p><b>Client.</b> AWS SDK v2 sync client on the {@code HttpURLConnection} transport, path-style
 * addressing, optional endpoint override, static credentials. Request checksums are computed only
 * where S3 requires them (third-party stores reject the SDK's default trailing checksums); payload
 * integrity comes from SigV4 payload signing over HTTP, from TLS over HTTPS, and from the content id
 * check of every decoded object. The SDK retries transient failures itself (standard retry mode,
 * {@link Options#attempts()} tries).
 *
 * <p><b>Threads.</b> Thread-safe (the SDK client is).
 */
public final class S3Backend implements Backend {

    private static final Logger log = LoggerFactory.getLogger(S3Backend.class);

    /**
     * How to reach the bucket.
     *
     * @param endpoint S3 endpoint, e.g. {@code http://127.0.0.1:9000}; null = AWS's regional endpoint
     * @param region signing region (any value for most S3-compatible stores)
     * @param bucket bucket name
     * @param prefix key prefix without leading or trailing {@code /}; empty for the bucket root
     * @param accessKey access key id
     * @param secretKey secret access key
     * @param createBucket create the bucket at open if it does not exist
     * @param conditionalPut use {@code If-None-Match: *} (true) or HEAD-then-PUT (false)
     * @param timeout per-attempt socket and connect timeout
     * @param listPageSize keys per LIST request (S3's maximum and default is 1000)
     * @param attempts tries per request, the first included ({@link #DEFAULT_ATTEMPTS} by default)
     */
    public record Options(URI endpoint, String region, String bucket, String prefix, String accessKey, String secretKey,
                          boolean createBucket, boolean conditionalPut, Duration timeout, int listPageSize, int attempts) {
        /**
         * Tries per request by default. The SDK's own default (3) gives up after about a second; with
         * exponential backoff (0.1 s doubling, at most 20 s, jittered) ten tries ride out about half a
         * minute of trouble, so a store that restarts or drops connections for a moment does not fail
         * a snapshot. Requests that cannot succeed (403, 404) are not retried at all.
         */
        public static final int DEFAULT_ATTEMPTS = 10;

        public Options {
            if (bucket == null || bucket.isBlank()) throw new IllegalArgumentException("bucket is required");
            if (accessKey == null || secretKey == null) throw new IllegalArgumentException("credentials are required");
            if (region == null || region.isBlank()) region = "us-east-1";
            prefix = prefix == null ? "" : prefix;
            if (prefix.startsWith("/") || prefix.endsWith("/")) throw new IllegalArgumentException("prefix must not start or end with '/': " + prefix);
            if (timeout == null) timeout = Duration.ofSeconds(30);
            if (listPageSize < 1 || listPageSize > 1000) throw new IllegalArgumentException("list page size must be 1..1000: " + listPageSize);
            if (attempts < 1 || attempts > 100) throw new IllegalArgumentException("attempts must be 1..100: " + attempts);
        }

        /** Options for a bucket at an S3-compatible endpoint, with conditional puts and no bucket creation. */
        public static Options of(URI endpoint, String bucket, String accessKey, String secretKey) {
            return new Options(endpoint, "us-east-1", bucket, "", accessKey, secretKey, false, true, Duration.ofSeconds(30), 1000, DEFAULT_ATTEMPTS);
        }

        public Options withPrefix(String p) {
            return new Options(endpoint, region, bucket, p, accessKey, secretKey, createBucket, conditionalPut, timeout, listPageSize, attempts);
        }

        public Options withCreateBucket(boolean create) {
            return new Options(endpoint, region, bucket, prefix, accessKey, secretKey, create, conditionalPut, timeout, listPageSize, attempts);
        }

        public Options withListPageSize(int keys) {
            return new Options(endpoint, region, bucket, prefix, accessKey, secretKey, createBucket, conditionalPut, timeout, keys, attempts);
        }

        public Options withRegion(String r) {
            return new Options(endpoint, r, bucket, prefix, accessKey, secretKey, createBucket, conditionalPut, timeout, listPageSize, attempts);
        }

        public Options withAttempts(int tries) {
            return new Options(endpoint, region, bucket, prefix, accessKey, secretKey, createBucket, conditionalPut, timeout, listPageSize, tries);
        }

        public Options withConditionalPut(boolean conditional) {
            return new Options(endpoint, region, bucket, prefix, accessKey, secretKey, createBucket, conditional, timeout, listPageSize, attempts);
        }
    }

    /** User metadata key ({@code x-amz-meta-cairn-put}) carrying a put's random token. */
    private static final String TOKEN_METADATA = "cairn-put";

    private final S3Client client;
    private final Options options;
    private final String base;
    private final SecureRandom random = new SecureRandom();

    /**
     * Ranges a read-ahead hint ({@link #willRead}) is fetching or has fetched, by key and range: the
     * {@link #get(ObjectKey, long, int) get} of exactly that range takes the bytes instead of asking
     * S3 again, so a flatten's next runs download while it copies the current ones. Bounded: at most
     * {@link #READ_AHEAD_RANGES} ranges of at most {@link #READ_AHEAD_MAX_BYTES}; a hint that finds no
     * room is dropped, one not taken within {@link #READ_AHEAD_TTL_NANOS} is forgotten, and a delete of
     * the key forgets its ranges (a get after a delete must not see the old bytes).
     */
    private final java.util.concurrent.ConcurrentHashMap<String, Prefetch> readAhead = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.ExecutorService readAheadThreads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
    static final int READ_AHEAD_RANGES = 32;
    static final int READ_AHEAD_MAX_BYTES = 4 << 20;
    static final long READ_AHEAD_TTL_NANOS = 30_000_000_000L;

    private record Prefetch(ObjectKey key, java.util.concurrent.CompletableFuture<ByteBuffer> bytes, long startedNanos) {}

    private S3Backend(S3Client client, Options options) {
        this.client = client;
        this.options = options;
        this.base = options.prefix().isEmpty() ? "" : options.prefix() + "/";
    }

    /** Connects, and creates the bucket if asked and absent. */
    public static S3Backend open(Options options) throws IOException {
        S3ClientBuilder builder = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(options.timeout())
                        .socketTimeout(options.timeout()))
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(options.attempts()).build()))
                .region(Region.of(options.region()))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(options.accessKey(), options.secretKey())))
                .forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        if (options.endpoint() != null) builder.endpointOverride(options.endpoint());
        S3Client client = builder.build();
        S3Backend backend = new S3Backend(client, options);
        try {
            backend.checkBucket();
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        return backend;
    }

    private void checkBucket() throws IOException {
        String bucket = options.bucket();
        try {
            client.headBucket(b -> b.bucket(bucket));
            return;
        } catch (NoSuchBucketException e) {
            if (!options.createBucket()) throw new IOException("S3 bucket " + bucket + " does not exist at " + where() + " (and createBucket is off)", e);
        } catch (S3Exception e) {
            if (e.statusCode() != 404) throw io("check bucket", null, e);
            if (!options.createBucket()) throw new IOException("S3 bucket " + bucket + " does not exist at " + where() + " (and createBucket is off)", e);
        } catch (SdkException e) {
            throw io("check bucket", null, e);
        }
        try {
            client.createBucket(b -> b.bucket(bucket));
            log.info("created S3 bucket {} at {}", bucket, where());
        } catch (BucketAlreadyOwnedByYouException e) {
            // Created concurrently by another opener: what we wanted.
        } catch (SdkException e) {
            throw io("create bucket", null, e);
        }
    }

    @Override
    public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException {
        byte[] body = new byte[bytes.remaining()]; // RequestBody.fromByteBuffer ignores the position: copy exactly
        bytes.duplicate().get(body);
        if (!options.conditionalPut()) {
            if (exists(key)) return false;
            put(key, body, null);
            return true;
        }
        // A 412 does not always mean "someone else stored it": a PUT whose response was lost may be sent
        // again (by the SDK's retries or HttpURLConnection's silent resend) and then find its own object.
        // Each put therefore carries a random token; on 412 a HEAD tells ours from another writer's, and
        // an absent object (a 412 the store should not have sent) gets one more try.
        for (int attempt = 1; ; attempt++) {
            String token = Long.toHexString(random.nextLong());
            try {
                put(key, body, token);
                return true;
            } catch (S3Exception e) {
                if (e.statusCode() != 412 && e.statusCode() != 409) throw io("put", key, e);
                Optional<String> stored = storedToken(key);
                if (stored.isPresent()) {
                    boolean ours = stored.get().equals(token);
                    if (ours) log.debug("put {}: {} answered a resent request; the object is this put's", key, e.statusCode());
                    return ours;
                }
                log.debug("put {}: {} but no object; trying again", key, e.statusCode());
                if (attempt == 3) throw io("put (the store keeps answering " + e.statusCode() + " for an absent object)", key, e);
            } catch (SdkException e) {
                throw io("put", key, e);
            }
        }
    }

    private void put(ObjectKey key, byte[] body, String token) {
        PutObjectRequest.Builder request = PutObjectRequest.builder().bucket(options.bucket()).key(s3Key(key))
                .contentLength((long) body.length);
        if (token != null) request.ifNoneMatch("*").metadata(Map.of(TOKEN_METADATA, token));
        client.putObject(request.build(), RequestBody.fromBytes(body));
    }

    /** The put token of the stored object ("" if it has none), or empty if there is no object. */
    private Optional<String> storedToken(ObjectKey key) throws IOException {
        try {
            var head = client.headObject(b -> b.bucket(options.bucket()).key(s3Key(key)));
            return Optional.of(head.metadata().getOrDefault(TOKEN_METADATA, ""));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return Optional.empty();
            throw io("head", key, e);
        } catch (SdkException e) {
            throw io("head", key, e);
        }
    }

    @Override
    public ByteBuffer get(ObjectKey key) throws IOException {
        return get(key, null);
    }

    @Override
    public ByteBuffer get(ObjectKey key, long offset, int length) throws IOException {
        if (length == 0) return ByteBuffer.allocate(0);
        Prefetch ahead = readAhead.remove(rangeId(key, offset, length));
        if (ahead != null) {
            try {
                return ahead.bytes().join();
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                // the hint's fetch failed: ask again, and report what that says
            }
        }
        return getRange(key, offset, length);
    }

    @Override
    public void willRead(ObjectKey key, long offset, long length) {
        if (length <= 0 || length > READ_AHEAD_MAX_BYTES) return;
        if (readAhead.size() >= READ_AHEAD_RANGES) {
            long now = System.nanoTime();
            readAhead.values().removeIf(p -> now - p.startedNanos() > READ_AHEAD_TTL_NANOS);
            if (readAhead.size() >= READ_AHEAD_RANGES) return;
        }
        Prefetch p = new Prefetch(key, new java.util.concurrent.CompletableFuture<>(), System.nanoTime());
        if (readAhead.putIfAbsent(rangeId(key, offset, (int) length), p) != null) return;
        try {
            readAheadThreads.execute(() -> {
                try {
                    p.bytes().complete(getRange(key, offset, (int) length));
                } catch (Throwable t) {
                    p.bytes().completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            readAhead.remove(rangeId(key, offset, (int) length), p);
        }
    }

    /** The fetch a hint started for exactly this range, or null (for tests). */
    java.util.concurrent.Future<ByteBuffer> readAheadOf(ObjectKey key, long offset, int length) {
        Prefetch p = readAhead.get(rangeId(key, offset, length));
        return p == null ? null : p.bytes();
    }

    private static String rangeId(ObjectKey key, long offset, int length) {
        return key.path() + "@" + offset + "+" + length;
    }

    private ByteBuffer getRange(ObjectKey key, long offset, int length) throws IOException {
        ByteBuffer b = get(key, "bytes=" + offset + "-" + (offset + length - 1));
        if (b.remaining() != length) throw new java.io.EOFException("object " + key + " returned " + b.remaining() + " of the " + length + " bytes asked for at " + offset);
        return b;
    }

    /** A GET of the whole object, or of {@code range} (an HTTP Range value). */
    private ByteBuffer get(ObjectKey key, String range) throws IOException {
        try {
            ResponseBytes<GetObjectResponse> response = client.getObjectAsBytes(b -> b.bucket(options.bucket()).key(s3Key(key)).range(range));
            byte[] bytes = response.asByteArrayUnsafe();
            Long expected = response.response().contentLength();
            if (expected != null && expected != bytes.length) {
                throw new IOException("S3 returned " + bytes.length + " of " + expected + " bytes for " + key);
            }
            return ByteBuffer.wrap(bytes);
        } catch (NoSuchKeyException e) {
            throw new NoSuchObjectException(key, describe());
        } catch (S3Exception e) {
            if (e.statusCode() == 404) throw new NoSuchObjectException(key, describe());
            throw io("get", key, e);
        } catch (SdkException e) {
            throw io("get", key, e);
        }
    }

    @Override
    public boolean exists(ObjectKey key) throws IOException {
        try {
            client.headObject(b -> b.bucket(options.bucket()).key(s3Key(key)));
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return false;
            throw io("head", key, e);
        } catch (SdkException e) {
            throw io("head", key, e);
        }
    }

    @Override
    public void list(ObjectKind kind, Consumer<ObjectInfo> each) throws IOException {
        String prefix = kind.directory().isEmpty() ? base : base + kind.directory() + "/";
        ListObjectsV2Request.Builder request = ListObjectsV2Request.builder().bucket(options.bucket()).prefix(prefix)
                .maxKeys(options.listPageSize());
        if (kind == ObjectKind.CONFIG) request.delimiter("/");
        try {
            for (S3Object object : client.listObjectsV2Paginator(request.build()).contents()) {
                String relative = object.key().substring(base.length());
                String name = relative.substring(relative.lastIndexOf('/') + 1);
                if (!kind.isValidName(name)) continue;
                ObjectKey key = new ObjectKey(kind, name);
                if (!key.path().equals(relative)) continue; // a stray object that is not ours
                each.accept(new ObjectInfo(key, object.size(), object.lastModified()));
            }
        } catch (SdkException e) {
            throw io("list " + kind, null, e);
        }
    }

    @Override
    public void delete(ObjectKey key) throws IOException {
        try {
            client.deleteObject(b -> b.bucket(options.bucket()).key(s3Key(key)));
        } catch (NoSuchKeyException e) {
            // Already gone: delete is idempotent.
        } catch (S3Exception e) {
            if (e.statusCode() != 404) throw io("delete", key, e);
        } catch (SdkException e) {
            throw io("delete", key, e);
        } finally {
            // after the delete: a hint's fetch that began before it is dropped; one that begins later finds no object
            readAhead.values().removeIf(p -> p.key().equals(key));
        }
    }

    @Override
    public String describe() {
        return "s3:" + where() + "/" + options.bucket() + (base.isEmpty() ? "" : "/" + options.prefix());
    }

    @Override
    public void close() {
        readAheadThreads.shutdownNow();
        readAhead.clear();
        client.close();
    }

    private String s3Key(ObjectKey key) {
        return base + key.path();
    }

    private String where() {
        return options.endpoint() == null ? "aws:" + options.region() : options.endpoint().toString();
    }

    private IOException io(String operation, ObjectKey key, SdkException e) {
        String what = "S3 " + operation + (key == null ? "" : " " + key) + " at " + describe() + " failed: " + e.getMessage();
        if (String.valueOf(e.getMessage()).contains("Error writing request body")) {
            // HttpURLConnection loses the answer of a server that refuses a large body before reading it
            what += " (the server closed the connection while the request body was sent: it may have refused the request"
                    + " (credentials, bucket policy, size limit, or its own trouble); its log says why)";
        }
        if (e instanceof S3Exception s3 && s3.statusCode() == 507) return new BackendFullException(what, e);
        return new IOException(what, e);
    }
}
