package dev.cairn.api;

import com.sun.net.httpserver.HttpServer;
import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.Filter;
import com.tencentcloudapi.common.Credential;
import com.tencentcloudapi.common.Sign;
import com.tencentcloudapi.common.profile.ClientProfile;
import com.tencentcloudapi.common.profile.HttpProfile;
import dev.cairn.control.Accounts.ApiKey;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * TC3-HMAC-SHA256 verification against known vectors: requests captured from the official SDK (as it
 * puts them on the wire, with its own signature), and a vector computed with the SDK's {@link Sign}.
 * Every failure path has its code.
 */
class Tc3SignatureTest {
    static final String SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    static final String SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    static final ApiKey KEY = new ApiKey(SECRET_ID, SECRET_KEY, 100000000001L, "admin", true);
    static final Function<String, Optional<ApiKey>> KEYS = id -> id.equals(SECRET_ID) ? Optional.of(KEY) : Optional.empty();

    static Tc3Signature.SignedRequest sdkJson;
    static Tc3Signature.SignedRequest sdkUnsigned;

    /** Captures two requests of the real SDK: default POST JSON, and with an unsigned payload. */
    @BeforeAll
    static void capture() throws Exception {
        sdkJson = captureFromSdk(false);
        sdkUnsigned = captureFromSdk(true);
    }

    static Tc3Signature.SignedRequest captureFromSdk(boolean unsignedPayload) throws Exception {
        Tc3Signature.SignedRequest[] captured = new Tc3Signature.SignedRequest[1];
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            Map<String, String> headers = new HashMap<>();
            exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v.getFirst()));
            byte[] body = exchange.getRequestBody().readAllBytes();
            String q = exchange.getRequestURI().getRawQuery();
            captured[0] = new Tc3Signature.SignedRequest(exchange.getRequestMethod(), "/", q == null ? "" : q, headers, body);
            byte[] answer = "{\"Response\":{\"TotalCount\":0,\"DiskSet\":[],\"RequestId\":\"r\"}}".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        server.start();
        try {
            HttpProfile http = new HttpProfile();
            http.setEndpoint("127.0.0.1:" + server.getAddress().getPort());
            http.setProtocol("http://");
            ClientProfile profile = new ClientProfile();
            profile.setHttpProfile(http);
            profile.setUnsignedPayload(unsignedPayload);
            CbsClient client = new CbsClient(new Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou", profile);
            DescribeDisksRequest req = new DescribeDisksRequest();
            Filter f = new Filter();
            f.setName("disk-state");
            f.setValues(new String[] {"ATTACHED"});
            req.setFilters(new Filter[] {f});
            req.setLimit(50L);
            client.DescribeDisks(req);
        } finally {
            server.stop(0);
        }
        return captured[0];
    }

    static InstantSource at(Tc3Signature.SignedRequest r, long plusSeconds) {
        long ts = Long.parseLong(r.header("x-tc-timestamp"));
        return InstantSource.fixed(Instant.ofEpochSecond(ts + plusSeconds));
    }

    static Tc3Signature.SignedRequest withHeader(Tc3Signature.SignedRequest r, String name, String value) {
        Map<String, String> h = new HashMap<>(r.headers());
        if (value == null) h.remove(name); else h.put(name, value);
        return new Tc3Signature.SignedRequest(r.method(), r.path(), r.query(), h, r.body());
    }

    static void assertAuth(String code, Tc3Signature.SignedRequest r, InstantSource clock) {
        assertThatThrownBy(() -> Tc3Signature.verify(r, KEYS, clock))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.code()).isEqualTo(code));
    }

    @Test
    void acceptsWhatTheSdkSends() {
        assertThat(sdkJson.header("authorization")).contains("/127/tc3_request").contains("SignedHeaders=content-type;host");
        assertThat(Tc3Signature.verify(sdkJson, KEYS, at(sdkJson, 0))).isEqualTo(KEY);
        assertThat(Tc3Signature.verify(sdkJson, KEYS, at(sdkJson, 299))).isEqualTo(KEY);
        assertThat(Tc3Signature.verify(sdkJson, KEYS, at(sdkJson, -299))).isEqualTo(KEY);
        assertThat(sdkUnsigned.header("x-tc-content-sha256")).isEqualTo("UNSIGNED-PAYLOAD");
        assertThat(Tc3Signature.verify(sdkUnsigned, KEYS, at(sdkUnsigned, 0))).isEqualTo(KEY);
    }

    @Test
    void matchesAVectorComputedWithTheSdkSigner() throws Exception {
        // Fixed inputs; expected value from the SDK's own primitives (Sign.hmac256 / Sign.sha256Hex).
        String date = "2026-11-26";
        String service = "cvm";
        String timestamp = "1795667147";
        String canonical = "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
                + "content-type;host\n" + Sign.sha256Hex("{\"Limit\":1}");
        String toSign = "TC3-HMAC-SHA256\n" + timestamp + "\n" + date + "/" + service + "/tc3_request\n" + Sign.sha256Hex(canonical);
        byte[] k = Sign.hmac256(Sign.hmac256(Sign.hmac256(("TC3" + SECRET_KEY).getBytes(StandardCharsets.UTF_8), date), service), "tc3_request");
        String expected = HexFormat.of().formatHex(Sign.hmac256(k, toSign));

        var auth = new Tc3Signature.Authorization(SECRET_ID, date, service, java.util.List.of("content-type", "host"), expected);
        var request = new Tc3Signature.SignedRequest("POST", "/", "",
                Map.of("content-type", "application/json; charset=utf-8", "host", "cvm.tencentcloudapi.com"),
                "{\"Limit\":1}".getBytes(StandardCharsets.UTF_8));
        assertThat(Tc3Signature.canonicalRequest(request, auth.signedHeaders(), false)).isEqualTo(canonical);
        assertThat(Tc3Signature.signature(SECRET_KEY, auth, timestamp, canonical)).isEqualTo(expected);
        var signed = withHeader(withHeader(request, "authorization", "TC3-HMAC-SHA256 Credential=" + SECRET_ID + "/" + date + "/"
                + service + "/tc3_request, SignedHeaders=content-type;host, Signature=" + expected), "x-tc-timestamp", timestamp);
        assertThat(Tc3Signature.verify(signed, KEYS, InstantSource.fixed(Instant.ofEpochSecond(Long.parseLong(timestamp))))).isEqualTo(KEY);
    }

    @Test
    void signatureFailureWhenAnythingSignedChanges() {
        var tampered = new Tc3Signature.SignedRequest(sdkJson.method(), sdkJson.path(), sdkJson.query(), sdkJson.headers(),
                "{\"Limit\":51}".getBytes(StandardCharsets.UTF_8));
        assertAuth("AuthFailure.SignatureFailure", tampered, at(sdkJson, 0));
        assertAuth("AuthFailure.SignatureFailure", withHeader(sdkJson, "host", "127.0.0.2:1"), at(sdkJson, 0));
        String auth = sdkJson.header("authorization");
        assertAuth("AuthFailure.SignatureFailure", withHeader(sdkJson, "authorization", auth.replace("/127/", "/cbs/")), at(sdkJson, 0));
        assertAuth("AuthFailure.SignatureFailure",
                withHeader(sdkJson, "authorization", auth.replaceFirst("/\\d{4}-\\d{2}-\\d{2}/", "/1999-01-01/")), at(sdkJson, 0));
        var wrongKey = (Function<String, Optional<ApiKey>>) id -> Optional.of(new ApiKey(id, "k".repeat(32), 1, "x", false));
        assertThatThrownBy(() -> Tc3Signature.verify(sdkJson, wrongKey, at(sdkJson, 0)))
                .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.code()).isEqualTo("AuthFailure.SignatureFailure"));
    }

    @Test
    void expiredOrFutureTimestamps() {
        assertAuth("AuthFailure.SignatureExpire", sdkJson, at(sdkJson, 301));
        assertAuth("AuthFailure.SignatureExpire", sdkJson, at(sdkJson, -301));
    }

    @Test
    void unknownSecretId() {
        String auth = sdkJson.header("authorization").replace(SECRET_ID, "AKIDunknownunknownunknownunknown1234");
        assertAuth("AuthFailure.SecretIdNotFound", withHeader(sdkJson, "authorization", auth), at(sdkJson, 0));
    }

    @Test
    void malformedAuthorization() {
        InstantSource clock = at(sdkJson, 0);
        String auth = sdkJson.header("authorization");
        for (String bad : new String[] {
                null, "", "Bearer abc", "TC3-HMAC-SHA256", "TC3-HMAC-SHA256 Credential=x",
                auth.replace("SignedHeaders=content-type;host", "SignedHeaders=host"),
                auth.replace("SignedHeaders=content-type;host", "SignedHeaders=content-type;host;x-missing"),
                auth.replace("SignedHeaders=content-type;host", "SignedHeaders=Content-Type;host"),
                auth.replace("/tc3_request", "/tc4_request"),
                auth.replaceAll("Signature=[0-9a-f]+", "Signature=abc"),
                auth.replaceAll("Signature=[0-9a-f]+", "Signature=" + "g".repeat(64)),
                auth + ", Extra=1"}) {
            assertAuth("AuthFailure.InvalidAuthorization", withHeader(sdkJson, "authorization", bad), clock);
        }
        assertAuth("AuthFailure.InvalidAuthorization", withHeader(sdkJson, "x-tc-timestamp", null), clock);
        assertAuth("AuthFailure.InvalidAuthorization", withHeader(sdkJson, "x-tc-timestamp", "yesterday"), clock);
        assertAuth("AuthFailure.TokenFailure", withHeader(sdkJson, "x-tc-token", "t"), clock);
    }
}
