package dev.cairn.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.control.RegionPeer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Another region's Cairn as a {@link RegionPeer}: its Tencent-style endpoint, called with its admin key
 * (TC3-signed like any client). Configured from that region's {@code credentials.json}
 * ({@code region}, {@code endpoint}, {@code secretId}, {@code secretKey}), which its first start writes.
 * Thread-safe.
 */
public final class PeerRegionClient implements RegionPeer {
    /** Verifying a large copy's chunks takes a while; the other calls are quick. */
    private static final Duration COMPLETE_TIMEOUT = Duration.ofMinutes(60);
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(2);

    private final String region;
    private final URI endpoint;
    private final String host;
    private final String secretId;
    private final String secretKey;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    public PeerRegionClient(String region, URI endpoint, String secretId, String secretKey) {
        this.region = region;
        this.endpoint = endpoint;
        this.host = endpoint.getAuthority();
        this.secretId = secretId;
        this.secretKey = secretKey;
    }

    /** Reads a region's credentials file (what {@code cairn serve} writes to {@code DATA/credentials.json}). */
    public static PeerRegionClient fromCredentials(Path file) throws IOException {
        JsonNode c = TencentApi.JSON.readTree(Files.readAllBytes(file));
        String region = text(c, "region", file);
        String endpoint = text(c, "endpoint", file);
        return new PeerRegionClient(region, URI.create(endpoint.endsWith("/") ? endpoint : endpoint + "/"), text(c, "secretId", file),
                text(c, "secretKey", file));
    }

    private static String text(JsonNode c, String field, Path file) throws IOException {
        JsonNode v = c.get(field);
        if (v == null || !v.isTextual() || v.asText().isEmpty()) throw new IOException(file + " has no `" + field + "`");
        return v.asText();
    }

    @Override
    public String region() {
        return region;
    }

    @Override
    public Begun begin(CopyStart s) throws IOException {
        ObjectNode b = JsonNodeFactory.instance.objectNode();
        b.put("SnapshotId", s.copySnapshotId()).put("AccountId", s.accountId()).put("SnapshotName", s.name())
                .put("SourceRegion", s.sourceRegion()).put("SourceSnapshotId", s.sourceSnapshotId()).put("SourceRepository", s.sourceRepository())
                .put("DiskId", s.diskId()).put("DiskSize", s.diskSizeGib()).put("DiskUsage", s.diskUsage()).put("Zone", s.zone())
                .put("DiskBytes", s.diskBytes()).put("BlockSize", s.blockSize()).put("StoredChunks", s.storedChunks()).put("Resume", s.resume());
        JsonNode r = call("BeginSnapshotCopy", b, CALL_TIMEOUT);
        return new Begun(r.path("SnapshotState").asText(), r.path("StoredChunks").asBoolean(false));
    }

    @Override
    public List<Long> putBlocks(String copySnapshotId, List<CopyBlock> blocks, long blocksDone, long blocksTotal) throws IOException {
        ObjectNode b = JsonNodeFactory.instance.objectNode();
        b.put("SnapshotId", copySnapshotId).put("BlocksDone", blocksDone).put("BlocksTotal", blocksTotal);
        ArrayNode list = b.putArray("Blocks");
        for (CopyBlock block : blocks) {
            ObjectNode o = list.addObject().put("Index", block.index()).put("SourceChunkId", block.sourceChunk());
            if (block.data() != null) o.put("Data", Base64.getEncoder().encodeToString(block.data()));
        }
        List<Long> missing = new ArrayList<>();
        for (JsonNode n : call("PutSnapshotCopyBlocks", b, CALL_TIMEOUT).path("MissingBlocks")) missing.add(n.asLong());
        return missing;
    }

    @Override
    public void complete(String copySnapshotId) throws IOException {
        call("CompleteSnapshotCopy", JsonNodeFactory.instance.objectNode().put("SnapshotId", copySnapshotId), COMPLETE_TIMEOUT);
    }

    private JsonNode call(String action, ObjectNode params, Duration timeout) throws IOException {
        byte[] body = TencentApi.JSON.writeValueAsBytes(params);
        long now = System.currentTimeMillis() / 1000;
        HttpRequest request = HttpRequest.newBuilder(endpoint).timeout(timeout)
                .header("Content-Type", Tc3Signer.CONTENT_TYPE)
                .header("X-TC-Action", action)
                .header("X-TC-Version", TencentApi.VERSION)
                .header("X-TC-Region", region)
                .header("X-TC-Timestamp", Long.toString(now))
                .header("Authorization", Tc3Signer.authorization(secretId, secretKey, host, body, now))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while calling " + action + " in " + region);
        }
        if (response.statusCode() != 200) throw new IOException(action + " in " + region + ": HTTP " + response.statusCode());
        JsonNode answer = TencentApi.JSON.readTree(response.body()).path("Response");
        JsonNode error = answer.get("Error");
        if (error != null) throw new PeerError(error.path("Code").asText(), error.path("Message").asText());
        return answer;
    }

    @Override
    public String toString() {
        return region + " at " + endpoint;
    }
}
