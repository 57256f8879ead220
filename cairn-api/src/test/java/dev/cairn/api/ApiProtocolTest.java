package dev.cairn.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.cbs.v20170312.models.AttachDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.DescribeDisksRequest;
import com.tencentcloudapi.cbs.v20170312.models.ResizeDiskRequest;
import com.tencentcloudapi.cbs.v20170312.models.TerminateDisksRequest;
import com.tencentcloudapi.common.CommonClient;
import com.tencentcloudapi.common.Sign;
import com.tencentcloudapi.cvm.v20170312.CvmClient;
import com.tencentcloudapi.cvm.v20170312.models.DescribeInstancesRequest;
import com.tencentcloudapi.cvm.v20170312.models.StopInstancesRequest;
import dev.cairn.control.Accounts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.cairn.api.ApiFixture.assertCode;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The API's edges: every AuthFailure path, protocol errors, bad parameters, accounts and isolation,
 * health and metrics. Well-formed calls use the official SDK; malformed ones are raw HTTP signed with
 * the SDK's own {@link Sign} primitives.
 */
class ApiProtocolTest {
    static ApiFixture api;

    @BeforeAll
    static void start() throws Exception {
        api = new ApiFixture();
    }

    @AfterAll
    static void stop() throws Exception {
        api.close();
    }

    // ---- signatures ----

    @Test
    void wrongSecretKeyIsSignatureFailure() {
        var wrong = new Accounts.Credentials(api.admin.accountId(), api.admin.secretId(), "x".repeat(32));
        assertCode("AuthFailure.SignatureFailure", () -> api.cbs(wrong).DescribeDisks(new DescribeDisksRequest()));
    }

    @Test
    void unknownSecretIdIsSecretIdNotFound() {
        var nobody = new Accounts.Credentials(1, "AKID" + "n".repeat(32), "k".repeat(32));
        assertCode("AuthFailure.SecretIdNotFound", () -> api.cbs(nobody).DescribeDisks(new DescribeDisksRequest()));
    }

    @Test
    void rawRequestSignedLikeTheSdkIsAccepted() throws Exception {
        JsonNode ok = raw("DescribeZones", "{}", now(), "127", api.admin.secretKey(), Map.of());
        assertThat(ok.at("/Response/ZoneSet").size()).isEqualTo(3);
        // the scope's service is used verbatim, whatever it says
        JsonNode cbs = raw("DescribeZones", "{}", now(), "cbs", api.admin.secretKey(), Map.of());
        assertThat(cbs.at("/Response/Error").isMissingNode()).isTrue();
    }

    @Test
    void authFailuresOfMalformedRequests() throws Exception {
        assertThat(errorOf(post(Map.of("Content-Type", "application/json", "X-TC-Action", "DescribeZones",
                "X-TC-Version", "2017-03-12", "X-TC-Timestamp", Long.toString(now())), "{}")))
                .isEqualTo("AuthFailure.InvalidAuthorization");
        assertThat(errorOf(post(Map.of("Content-Type", "application/json", "Authorization", "TC3-HMAC-SHA256 garbage",
                "X-TC-Timestamp", Long.toString(now())), "{}"))).isEqualTo("AuthFailure.InvalidAuthorization");
        assertThat(errorOf(post(Map.of("Content-Type", "application/json", "Authorization", "Basic dXNlcjpwYXNz"), "{}")))
                .isEqualTo("AuthFailure.InvalidAuthorization");
        // signature not hex
        Map<String, String> h = signedHeaders("DescribeZones", "{}", now(), "127", api.admin.secretKey());
        h.put("Authorization", h.get("Authorization").replaceAll("Signature=[0-9a-f]{64}", "Signature=" + "z".repeat(64)));
        assertThat(errorOf(post(h, "{}"))).isEqualTo("AuthFailure.InvalidAuthorization");
        // no timestamp
        h = signedHeaders("DescribeZones", "{}", now(), "127", api.admin.secretKey());
        h.remove("X-TC-Timestamp");
        assertThat(errorOf(post(h, "{}"))).isEqualTo("AuthFailure.InvalidAuthorization");
    }

    @Test
    void timestampOutsideFiveMinutesIsSignatureExpire() throws Exception {
        assertThat(errorOf(raw("DescribeZones", "{}", now() - 301, "127", api.admin.secretKey(), Map.of())))
                .isEqualTo("AuthFailure.SignatureExpire");
        assertThat(errorOf(raw("DescribeZones", "{}", now() + 301, "127", api.admin.secretKey(), Map.of())))
                .isEqualTo("AuthFailure.SignatureExpire");
        assertThat(errorOf(raw("DescribeZones", "{}", now() - 240, "127", api.admin.secretKey(), Map.of())))
                .isNull();
    }

    @Test
    void tamperedBodyOrScopeDateIsSignatureFailure() throws Exception {
        Map<String, String> h = signedHeaders("DescribeDisks", "{\"Limit\":1}", now(), "127", api.admin.secretKey());
        assertThat(errorOf(post(h, "{\"Limit\":2}"))).isEqualTo("AuthFailure.SignatureFailure");
        h = signedHeaders("DescribeDisks", "{}", now(), "127", api.admin.secretKey());
        h.put("Authorization", h.get("Authorization").replaceFirst("/\\d{4}-\\d{2}-\\d{2}/", "/2020-01-01/"));
        assertThat(errorOf(post(h, "{}"))).isEqualTo("AuthFailure.SignatureFailure");
        h = signedHeaders("DescribeDisks", "{}", now(), "127", api.admin.secretKey());
        h.put("X-TC-Token", "session");
        assertThat(errorOf(post(h, "{}"))).isEqualTo("AuthFailure.TokenFailure");
    }

    // ---- protocol ----

    @Test
    void unknownActionVersionAndRegion() throws Exception {
        CommonClient common = api.common(api.admin);
        assertCode("InvalidAction", () -> common.call("FlyToTheMoon", "{}"));
        assertThat(errorOf(raw(null, "{}", now(), "127", api.admin.secretKey(), Map.of()))).isEqualTo("MissingParameter");
        assertThat(errorOf(raw("DescribeZones", "{}", now(), "127", api.admin.secretKey(), Map.of("X-TC-Version", "2099-01-01"))))
                .isEqualTo("NoSuchVersion");
        CbsClient beijing = new CbsClient(ApiFixture.credential(api.admin), "ap-beijing", api.profile());
        assertCode("UnsupportedRegion", () -> beijing.DescribeDisks(new DescribeDisksRequest()));
    }

    @Test
    void badBodiesAndParametersGetPreciseCodes() throws Exception {
        CommonClient common = api.common(api.admin);
        assertThat(errorOf(raw("DescribeDisks", "{\"Limit\":", now(), "127", api.admin.secretKey(), Map.of())))
                .isEqualTo("InvalidParameter");
        assertThat(errorOf(raw("DescribeDisks", "[1,2]", now(), "127", api.admin.secretKey(), Map.of())))
                .isEqualTo("InvalidParameter");
        assertThat(errorOf(raw("DescribeDisks", "{\"Limit\":1,\"Limit\":2}", now(), "127", api.admin.secretKey(), Map.of())))
                .isEqualTo("InvalidParameter");
        assertCode("InvalidParameter", () -> common.call("DescribeDisks", "{\"Limit\":\"ten\"}"));
        assertCode("InvalidParameter", () -> common.call("DescribeDisks", "{\"Limit\":1.5}"));
        assertCode("InvalidParameter", () -> common.call("DescribeDisks", "{\"DiskIds\":\"disk-12345678\"}"));
        assertCode("UnknownParameter", () -> common.call("DescribeDisks", "{\"Colour\":\"blue\"}"));
        assertCode("UnknownParameter", () -> common.call("CreateDisks",
                "{\"Placement\":{\"Zone\":\"ap-guangzhou-1\",\"Rack\":1},\"DiskChargeType\":\"POSTPAID_BY_HOUR\",\"DiskType\":\"CLOUD_PREMIUM\",\"DiskSize\":10}"));
        assertCode("MissingParameter", () -> common.call("AttachDisks", "{\"DiskIds\":[\"disk-12345678\"]}"));
        assertCode("InvalidParameterValue", () -> common.call("AttachDisks", "{\"InstanceId\":\"ins-1\",\"DiskIds\":[\"disk-12345678\"]}"));
        assertCode("InvalidParameterValue.LimitExceeded", () -> common.call("DetachDisks",
                "{\"DiskIds\":[\"disk-00000001\",\"disk-00000002\",\"disk-00000003\",\"disk-00000004\",\"disk-00000005\","
                        + "\"disk-00000006\",\"disk-00000007\",\"disk-00000008\",\"disk-00000009\",\"disk-00000010\",\"disk-00000011\"]}"));
        var e = org.assertj.core.api.Assertions.catchThrowableOfType(
                com.tencentcloudapi.common.exception.TencentCloudSDKException.class,
                () -> common.call("CreateDisks", "{\"Placement\":{},\"DiskChargeType\":\"POSTPAID_BY_HOUR\"}"));
        assertThat(e.getErrorCode()).isEqualTo("MissingParameter");
        assertThat(e.getMessage()).contains("Placement.Zone");
    }

    @Test
    void oversizedBodiesAndOtherProtocolsAreRefusedClearly() throws Exception {
        String big = "{\"DiskName\":\"" + "x".repeat(TencentApi.MAX_BODY_BYTES) + "\"}";
        HttpResponse<String> r = post(signedHeaders("CreateDisks", big, now(), "127", api.admin.secretKey()), big);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(errorOf(r)).isEqualTo("RequestSizeLimitExceeded");

        HttpResponse<String> get = api.send(HttpRequest.newBuilder(api.uri("/?Action=DescribeZones")).GET().build());
        assertThat(errorOf(get)).isEqualTo("UnsupportedProtocol");
        Map<String, String> form = signedHeaders("DescribeZones", "", now(), "127", api.admin.secretKey());
        form.put("Content-Type", "application/x-www-form-urlencoded");
        assertThat(errorOf(post(form, ""))).isEqualTo("UnsupportedProtocol");
        assertThat(get.body()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void healthMetricsAndNotFound() throws Exception {
        api.cvm(api.admin).DescribeInstances(new DescribeInstancesRequest());
        HttpResponse<String> health = api.send(HttpRequest.newBuilder(api.uri("/healthz")).GET().build());
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(TencentApi.JSON.readTree(health.body()).get("status").asText()).isEqualTo("ok");
        HttpResponse<String> metrics = api.send(HttpRequest.newBuilder(api.uri("/metrics")).GET().build());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
        assertThat(metrics.body()).contains("cairn_api_requests_total{action=\"DescribeInstances\",code=\"Success\"}")
                .contains("cairn_api_request_duration_seconds_bucket");
        assertThat(api.send(HttpRequest.newBuilder(api.uri("/nothing")).GET().build()).statusCode()).isEqualTo(404);
    }

    // ---- accounts ----

    @Test
    void createAccountAndIsolation() throws Exception {
        CommonClient admin = api.common(api.admin);
        JsonNode created = TencentApi.JSON.readTree(admin.call("CreateAccount", "{\"Name\":\"tenant-b\"}")).get("Response");
        long accountId = Long.parseLong(created.get("AccountId").asText());
        assertThat(accountId).isGreaterThan(Accounts.FIRST_ACCOUNT_ID);
        var b = new Accounts.Credentials(accountId, created.get("SecretId").asText(), created.get("SecretKey").asText());
        assertThat(b.secretId()).startsWith("AKID").hasSize(36);
        assertThat(b.secretKey()).hasSize(32);
        assertCode("UnauthorizedOperation", () -> api.common(b).call("CreateAccount", "{\"Name\":\"tenant-c\"}"));
        assertCode("InvalidParameterValue.Duplicate", () -> admin.call("CreateAccount", "{\"Name\":\"tenant-b\"}"));

        CvmClient cvmA = api.cvm(api.admin);
        String ins = CbsSdkTest.runInstance(cvmA, "ap-guangzhou-1");
        String disk = CbsSdkTest.createDisks(api.cbs(api.admin), "ap-guangzhou-1", 10, 1, null)[0];

        CbsClient cbsB = api.cbs(b);
        CvmClient cvmB = api.cvm(b);
        assertThat(cbsB.DescribeDisks(new DescribeDisksRequest()).getTotalCount()).isZero();
        assertThat(cvmB.DescribeInstances(new DescribeInstancesRequest()).getTotalCount()).isZero();
        DescribeDisksRequest byId = new DescribeDisksRequest();
        byId.setDiskIds(new String[] {disk});
        assertThat(cbsB.DescribeDisks(byId).getDiskSet()).isEmpty();
        TerminateDisksRequest terminate = new TerminateDisksRequest();
        terminate.setDiskIds(new String[] {disk});
        assertCode("InvalidDiskId.NotFound", () -> cbsB.TerminateDisks(terminate));
        ResizeDiskRequest resize = new ResizeDiskRequest();
        resize.setDiskId(disk);
        resize.setDiskSize(100L);
        assertCode("InvalidDiskId.NotFound", () -> cbsB.ResizeDisk(resize));
        StopInstancesRequest stop = new StopInstancesRequest();
        stop.setInstanceIds(new String[] {ins});
        assertCode("InvalidInstanceId.NotFound", () -> cvmB.StopInstances(stop));
        String bIns = CbsSdkTest.runInstance(cvmB, "ap-guangzhou-1");
        AttachDisksRequest steal = new AttachDisksRequest();
        steal.setInstanceId(bIns);
        steal.setDiskIds(new String[] {disk});
        assertCode("InvalidDiskId.NotFound", () -> cbsB.AttachDisks(steal));
        AttachDisksRequest intoTheirs = new AttachDisksRequest();
        intoTheirs.setInstanceId(ins);
        intoTheirs.setDiskIds(new String[] {CbsSdkTest.createDisks(cbsB, "ap-guangzhou-1", 10, 1, null)[0]});
        assertCode("InvalidInstanceId.NotFound", () -> cbsB.AttachDisks(intoTheirs));
        assertThat(CbsSdkTest.disk(api.cbs(api.admin), disk).getDiskState()).isEqualTo("UNATTACHED");
    }

    // ---- raw HTTP helpers, signed with the SDK's own primitives ----

    static long now() {
        return Instant.now().getEpochSecond();
    }

    JsonNode raw(String action, String body, long timestamp, String service, String secretKey, Map<String, String> extra)
            throws Exception {
        Map<String, String> h = signedHeaders(action, body, timestamp, service, secretKey);
        h.putAll(extra);
        return TencentApi.JSON.readTree(post(h, body).body());
    }

    static Map<String, String> signedHeaders(String action, String body, long timestamp, String service, String secretKey)
            throws Exception {
        String host = api.endpoint();
        String contentType = "application/json; charset=utf-8";
        String date = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC).format(Instant.ofEpochSecond(timestamp));
        String canonical = "POST\n/\n\ncontent-type:" + contentType + "\nhost:" + host + "\n\ncontent-type;host\n"
                + Sign.sha256Hex(body.getBytes(StandardCharsets.UTF_8));
        String scope = date + "/" + service + "/tc3_request";
        String toSign = "TC3-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + Sign.sha256Hex(canonical);
        byte[] kDate = Sign.hmac256(("TC3" + secretKey).getBytes(StandardCharsets.UTF_8), date);
        byte[] kService = Sign.hmac256(kDate, service);
        byte[] kSigning = Sign.hmac256(kService, "tc3_request");
        String signature = HexFormat.of().formatHex(Sign.hmac256(kSigning, toSign));
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", contentType);
        h.put("Authorization", "TC3-HMAC-SHA256 Credential=" + api.admin.secretId() + "/" + scope
                + ", SignedHeaders=content-type;host, Signature=" + signature);
        if (action != null) h.put("X-TC-Action", action);
        h.put("X-TC-Version", "2017-03-12");
        h.put("X-TC-Region", "ap-guangzhou");
        h.put("X-TC-Timestamp", Long.toString(timestamp));
        return h;
    }

    static HttpResponse<String> post(Map<String, String> headers, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(api.uri("/")).POST(HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(b::header);
        return api.send(b.build());
    }

    static String errorOf(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).isEqualTo(200);
        return errorOf(TencentApi.JSON.readTree(r.body()));
    }

    static String errorOf(JsonNode envelope) {
        assertThat(envelope.at("/Response/RequestId").asText()).isNotEmpty();
        JsonNode code = envelope.at("/Response/Error/Code");
        return code.isMissingNode() ? null : code.asText();
    }
}
