package dev.cairn.api;

import dev.cairn.control.Accounts.ApiKey;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Tencent Cloud API 3.0 request signatures, TC3-HMAC-SHA256 (reference §1.2), checked exactly as the
 * SDK computes them.
 *
 * <p>The credential scope's service is taken verbatim from the request: the Java SDK uses the
 * endpoint's first label ({@code 127} for {@code 127.0.0.1:8080}), so it must never be assumed. The
 * timestamp window is checked against the real clock passed in (never a test clock). Checks, in order:
 * Authorization present and well-formed → {@code AuthFailure.InvalidAuthorization}; SecretId known →
 * {@code SecretIdNotFound}; |now − X-TC-Timestamp| ≤ 300 s → {@code SignatureExpire}; scope date equals
 * the timestamp's UTC date and the signature matches (constant-time) → {@code SignatureFailure}.
 *
 * <p>Stateless and thread-safe.
 */
final class Tc3Signature {
    static final String ALGORITHM = "TC3-HMAC-SHA256";
    static final long WINDOW_SECONDS = 300;
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
    private static final HexFormat HEX = HexFormat.of();

    private Tc3Signature() {}

    /** What the verifier needs of an HTTP request. Header names are lowercase; values as received. */
    record SignedRequest(String method, String path, String query, Map<String, String> headers, byte[] body) {
        String header(String lowercaseName) {
            return headers.get(lowercaseName);
        }
    }

    /** The parsed {@code Authorization} header. */
    record Authorization(String secretId, String date, String service, List<String> signedHeaders, String signature) {
        String scope() {
            return date + "/" + service + "/tc3_request";
        }
    }

    /** Verifies {@code request} and returns the key that signed it, or throws an {@code AuthFailure.*} {@link ApiError}. */
    static ApiKey verify(SignedRequest request, Function<String, Optional<ApiKey>> keys, InstantSource realClock) {
        Authorization auth = parse(request.header("authorization"));
        String token = request.header("x-tc-token");
        if (token != null && !token.isEmpty()) {
            throw ApiError.auth("TokenFailure", "temporary credentials (X-TC-Token) are not supported by Cairn");
        }
        String ts = request.header("x-tc-timestamp");
        long timestamp;
        try {
            timestamp = Long.parseLong(ts == null ? "" : ts.trim());
        } catch (NumberFormatException e) {
            throw ApiError.auth("InvalidAuthorization", "header X-TC-Timestamp must be Unix seconds, got " + quote(ts));
        }
        for (String required : List.of("content-type", "host")) {
            if (!auth.signedHeaders().contains(required)) {
                throw ApiError.auth("InvalidAuthorization", "SignedHeaders must include " + required);
            }
        }
        for (String h : auth.signedHeaders()) {
            if (request.header(h) == null) throw ApiError.auth("InvalidAuthorization", "signed header " + h + " is not in the request");
        }
        ApiKey key = keys.apply(auth.secretId()).orElseThrow(() ->
                ApiError.auth("SecretIdNotFound", "SecretId " + auth.secretId() + " is not found or disabled"));
        long now = realClock.instant().getEpochSecond();
        if (Math.abs(now - timestamp) > WINDOW_SECONDS) {
            throw ApiError.auth("SignatureExpire", "X-TC-Timestamp " + timestamp + " is more than " + WINDOW_SECONDS
                    + " s away from the server time " + now);
        }
        if (!auth.date().equals(DATE.format(Instant.ofEpochSecond(timestamp)))) {
            throw ApiError.auth("SignatureFailure", "credential date " + auth.date() + " is not the UTC date of X-TC-Timestamp");
        }
        byte[] presented;
        try {
            presented = HEX.parseHex(auth.signature());
        } catch (IllegalArgumentException e) {
            throw ApiError.auth("InvalidAuthorization", "Signature must be 64 hex digits");
        }
        // The SDK signs header values verbatim; Tencent's spec lowercases them. Accept either.
        for (boolean lowercaseValues : new boolean[] {false, true}) {
            String expected = signature(key.secretKey(), auth, ts.trim(), canonicalRequest(request, auth.signedHeaders(), lowercaseValues));
            if (MessageDigest.isEqual(HEX.parseHex(expected), presented)) return key;
        }
        throw ApiError.auth("SignatureFailure", "the request signature does not match; check the SecretKey and how the request was signed");
    }

    static Authorization parse(String header) {
        if (header == null || header.isBlank()) throw ApiError.auth("InvalidAuthorization", "the Authorization header is missing");
        String h = header.trim();
        if (!h.startsWith(ALGORITHM + " ")) {
            throw ApiError.auth("InvalidAuthorization", "Authorization must start with " + ALGORITHM);
        }
        String credential = null, signedHeaders = null, signature = null;
        for (String part : h.substring(ALGORITHM.length()).split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            if (eq <= 0) throw ApiError.auth("InvalidAuthorization", "malformed Authorization field " + quote(p));
            String name = p.substring(0, eq);
            String value = p.substring(eq + 1).trim();
            switch (name) {
                case "Credential" -> credential = value;
                case "SignedHeaders" -> signedHeaders = value;
                case "Signature" -> signature = value;
                default -> throw ApiError.auth("InvalidAuthorization", "unknown Authorization field " + quote(name));
            }
        }
        if (credential == null || signedHeaders == null || signature == null) {
            throw ApiError.auth("InvalidAuthorization", "Authorization needs Credential, SignedHeaders and Signature");
        }
        String[] c = credential.split("/", -1);
        if (c.length != 4 || c[0].isEmpty() || !c[1].matches("\\d{4}-\\d{2}-\\d{2}") || c[2].isEmpty() || !c[3].equals("tc3_request")) {
            throw ApiError.auth("InvalidAuthorization", "Credential must be SecretId/yyyy-MM-dd/service/tc3_request");
        }
        if (signature.length() != 64) throw ApiError.auth("InvalidAuthorization", "Signature must be 64 hex digits");
        List<String> headers = new ArrayList<>();
        for (String s : signedHeaders.split(";")) {
            if (s.isEmpty() || !s.equals(s.toLowerCase(Locale.ROOT))) {
                throw ApiError.auth("InvalidAuthorization", "SignedHeaders must be lowercase names joined by ';'");
            }
            headers.add(s);
        }
        return new Authorization(c[0], c[1], c[2], List.copyOf(headers), signature);
    }

    static String canonicalRequest(SignedRequest r, List<String> signedHeaders, boolean lowercaseValues) {
        StringBuilder headers = new StringBuilder();
        for (String h : signedHeaders) {
            String v = r.header(h).trim();
            headers.append(h).append(':').append(lowercaseValues ? v.toLowerCase(Locale.ROOT) : v).append('\n');
        }
        String unsigned = r.header("x-tc-content-sha256");
        String payloadHash = "UNSIGNED-PAYLOAD".equals(unsigned)
                ? sha256Hex("UNSIGNED-PAYLOAD".getBytes(StandardCharsets.UTF_8))
                : sha256Hex(r.body());
        return r.method() + "\n" + r.path() + "\n" + (r.query() == null ? "" : r.query()) + "\n" + headers + "\n"
                + String.join(";", signedHeaders) + "\n" + payloadHash;
    }

    /** The hex signature of {@code canonicalRequest} under {@code secretKey} and {@code auth}'s scope. */
    static String signature(String secretKey, Authorization auth, String timestamp, String canonicalRequest) {
        String stringToSign = ALGORITHM + "\n" + timestamp + "\n" + auth.scope() + "\n"
                + sha256Hex(canonicalRequest.getBytes(StandardCharsets.UTF_8));
        byte[] kDate = hmac(("TC3" + secretKey).getBytes(StandardCharsets.UTF_8), auth.date());
        byte[] kService = hmac(kDate, auth.service());
        byte[] kSigning = hmac(kService, "tc3_request");
        return HEX.formatHex(hmac(kSigning, stringToSign));
    }

    static String sha256Hex(byte[] bytes) {
        try {
            return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    private static byte[] hmac(byte[] key, String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 missing from the JDK", e);
        }
    }

    private static String quote(String s) {
        if (s == null) return "(none)";
        return "'" + (s.length() > 64 ? s.substring(0, 64) + "…" : s) + "'";
    }
}
