package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.api.Tc3Signer;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
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

    ApiClient(Credentials credentials, ObjectMapper json) {
        this.credentials = credentials;
        this.json = json;
    }

    /** Calls {@code action} with {@code params}; returns the {@code Response} object (without RequestId). */
    ObjectNode call(String action, ObjectNode params) throws IOException, ApiException {
        return call(action, params, java.time.Duration.ofMinutes(2));
    }

    /** As {@link #call(String, ObjectNode)}, waiting up to {@code answerWithin} for the answer (for long actions). */
    ObjectNode call(String action, ObjectNode params, java.time.Duration answerWithin) throws IOException, ApiException {
        URI endpoint = URI.create(credentials.endpoint().endsWith("/") ? credentials.endpoint() : credentials.endpoint() + "/");
        String host = endpoint.getAuthority();
        byte[] body = json.writeValueAsBytes(params);
        long timestamp = Instant.now().getEpochSecond();
        String authorization = Tc3Signer.authorization(credentials.secretId(), credentials.secretKey(), host, body, timestamp);
        // HttpURLConnection, not java.net.http: a CLI run makes a handful of calls, and it starts much faster.
        java.net.HttpURLConnection c = (java.net.HttpURLConnection) endpoint.toURL().openConnection();
        byte[] answer;
        int status;
        try {
            c.setConnectTimeout(10_000);
            c.setReadTimeout((int) Math.min(Integer.MAX_VALUE, answerWithin.toMillis()));
            c.setRequestMethod("POST");
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", Tc3Signer.CONTENT_TYPE);
            c.setRequestProperty("Authorization", authorization);
            c.setRequestProperty("X-TC-Action", action);
            c.setRequestProperty("X-TC-Version", VERSION);
            c.setRequestProperty("X-TC-Timestamp", Long.toString(timestamp));
            c.setRequestProperty("X-TC-Region", credentials.region());
            c.setRequestProperty("X-TC-RequestClient", "cairn-cli");
            c.setFixedLengthStreamingMode(body.length);
            try (var out = c.getOutputStream()) {
                out.write(body);
            }
            status = c.getResponseCode();
            try (var in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
                answer = in == null ? new byte[0] : in.readAllBytes();
            }
        } catch (java.net.ConnectException e) {
            throw new IOException("cannot reach the Cairn API at " + credentials.endpoint() + " (is 'cairn serve' running?)", e);
        } finally {
            c.disconnect();
        }
        if (status != 200) {
            throw new IOException("API answered HTTP " + status + ": " + new String(answer, StandardCharsets.UTF_8));
        }
        JsonNode root = json.readTree(answer);
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
