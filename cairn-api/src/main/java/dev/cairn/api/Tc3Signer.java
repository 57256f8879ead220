package dev.cairn.api;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

/**
 * The client side of TC3-HMAC-SHA256, for Cairn's own CLI: signs a JSON {@code POST /} exactly as
 * Tencent's SDKs do (signed headers {@code content-type;host}, service = the endpoint's first label),
 * with the same canonical-request and key-derivation code the server verifies with.
 */
public final class Tc3Signer {
    public static final String CONTENT_TYPE = "application/json; charset=utf-8";
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
    private static final List<String> SIGNED = List.of("content-type", "host");

    private Tc3Signer() {}

    /** The {@code Authorization} header value for a JSON POST of {@code body} to {@code host} at {@code timestamp}. */
    public static String authorization(String secretId, String secretKey, String host, byte[] body, long timestamp) {
        String service = host.split("\\.")[0]; // what Tencent's SDKs do: "127" for 127.0.0.1:8080
        var auth = new Tc3Signature.Authorization(secretId, DATE.format(Instant.ofEpochSecond(timestamp)), service, SIGNED, "");
        var request = new Tc3Signature.SignedRequest("POST", "/", "", Map.of("content-type", CONTENT_TYPE, "host", host), body);
        String signature = Tc3Signature.signature(secretKey, auth, Long.toString(timestamp),
                Tc3Signature.canonicalRequest(request, SIGNED, false));
        return Tc3Signature.ALGORITHM + " Credential=" + secretId + "/" + auth.scope()
                + ", SignedHeaders=" + String.join(";", SIGNED) + ", Signature=" + signature;
    }
}
