package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.api.Tc3Signer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;

/**
 * A Tencent Cloud API 3.0 client for the CLI: signs each call with {@link Tc3Signer} (as Tencent's SDKs
 * do) and turns error envelopes into {@link ApiException}.
 * Thread-safe; one instance per CLI run.
 */
final class ApiClient {
    static final String VERSION = "2017-03-12";

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
        String authorization = Tc3Signer.authorization(credentials.secretId(), credentials.secretKey(), host, body, timestamp);
        HttpRequest request = HttpRequest.newBuilder(endpoint)
                .timeout(Duration.ofMinutes(2))
                .header("Content-Type", Tc3Signer.CONTENT_TYPE)
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
