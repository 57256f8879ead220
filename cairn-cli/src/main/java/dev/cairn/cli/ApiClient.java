package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A Tencent Cloud API 3.0 client for the CLI: signs each call with TC3-HMAC-SHA256 exactly as Tencent's
 * SDKs do (service name = the endpoint's first label) and turns error envelopes into {@link ApiException}.
 * Thread-safe; one instance per CLI run.
 */
final class ApiClient {
    static final String VERSION = "2017-03-12";
    private static final String CONTENT_TYPE = "application/json; charset=utf-8";
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);

    private final Credentials credentials;
    private final ObjectMapper json;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    ApiClient(Credentials credentials, ObjectMapper json) {
        this.credentials = credentials;
        this.json = json;
    }

    /** Calls {@code action} with {@code params}; returns the {@code Response} object (without RequestId). */
    ObjectNode call(String action, ObjectNode params) throws IOException, ApiException {
        URI endpoint = URI.create(credentials.endpoint().endsWith("/") ? credentials.endpoint() : credentials.endpoint() + "/");
        String host = endpoint.getAuthority();
        byte[] body = json.writeValueAsBytes(params);
        long timestamp = Instant.now().getEpochSecond();
        String authorization = authorization(host, body, timestamp);
        HttpRequest request = HttpRequest.newBuilder(endpoint)
                .timeout(Duration.ofMinutes(2))
                .header("Content-Type", CONTENT_TYPE)
                .header("Authorization", authorization)
                .header("X-TC-Action", action)
                .header("X-TC-Version", VERSION)
                .header("X-TC-Timestamp", Long.toString(timestamp))
                .header("X-TC-Region", credentials.region())
                .header("X-TC-RequestClient", "cairn-cli")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (java.net.ConnectException e) {
            throw new IOException("cannot reach the Cairn API at " + credentials.endpoint() + " (is 'cairn serve' running?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (response.statusCode() != 200) {
            throw new IOException("API answered HTTP " + response.statusCode() + ": " + new String(response.body(), StandardCharsets.UTF_8));
        }
        JsonNode root = json.readTree(response.body());
        JsonNode resp = root.path("Response");
        if (!resp.isObject()) throw new IOException("API answered without a Response object");
        JsonNode error = resp.path("Error");
        if (error.isObject()) {
            throw new ApiException(error.path("Code").asText(), error.path("Message").asText(), resp.path("RequestId").asText());
        }
        ObjectNode out = (ObjectNode) resp;
        out.remove("RequestId");
        return out;
    }

    private String authorization(String host, byte[] body, long timestamp) {
        String service = host.split("\\.")[0]; // what Tencent's SDKs do; for 127.0.0.1 it is "127"
        String date = DATE.format(Instant.ofEpochSecond(timestamp));
        String signedHeaders = "content-type;host";
        String canonicalRequest = "POST\n/\n\ncontent-type:" + CONTENT_TYPE + "\nhost:" + host + "\n\n" + signedHeaders + "\n" + sha256Hex(body);
        String scope = date + "/" + service + "/tc3_request";
        String stringToSign = "TC3-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n"
                + sha256Hex(canonicalRequest.getBytes(StandardCharsets.UTF_8));
        byte[] kDate = hmac(("TC3" + credentials.secretKey()).getBytes(StandardCharsets.UTF_8), date);
        byte[] kService = hmac(kDate, service);
        byte[] kSigning = hmac(kService, "tc3_request");
        String signature = HexFormat.of().formatHex(hmac(kSigning, stringToSign));
        return "TC3-HMAC-SHA256 Credential=" + credentials.secretId() + "/" + scope
                + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature;
    }

    private static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An error envelope from the API: its Tencent code, message and request id. */
    static final class ApiException extends Exception {
        final String code;
        final String requestId;

        ApiException(String code, String message, String requestId) {
            super(message);
            this.code = code;
            this.requestId = requestId;
        }
    }
}
