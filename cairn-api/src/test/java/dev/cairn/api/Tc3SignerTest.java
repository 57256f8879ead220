package dev.cairn.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.control.Accounts.ApiKey;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What the CLI signs, the server accepts; a changed body or key does not verify. */
class Tc3SignerTest {
    private static final ApiKey KEY = new ApiKey("AKIDexample0000000000000000000000000", "secretsecretsecretsecretsecret00", 100000000001L, "admin", true);

    @Test
    void signedRequestsVerify() {
        long now = 1_790_000_000L;
        byte[] body = "{\"Limit\":5}".getBytes(StandardCharsets.UTF_8);
        String auth = Tc3Signer.authorization(KEY.secretId(), KEY.secretKey(), "127.0.0.1:8080", body, now);
        assertThat(auth).contains("/127/tc3_request", "SignedHeaders=content-type;host");
        var request = request(auth, now, body);
        assertThat(Tc3Signature.verify(request, id -> Optional.of(KEY).filter(k -> k.secretId().equals(id)),
                InstantSource.fixed(Instant.ofEpochSecond(now)))).isEqualTo(KEY);

        var tampered = request(auth, now, "{\"Limit\":6}".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Tc3Signature.verify(tampered, id -> Optional.of(KEY), InstantSource.fixed(Instant.ofEpochSecond(now))))
                .isInstanceOf(ApiError.class).hasMessageContaining("signature");
    }

    private static Tc3Signature.SignedRequest request(String auth, long ts, byte[] body) {
        return new Tc3Signature.SignedRequest("POST", "/", "", Map.of(
                "authorization", auth, "content-type", Tc3Signer.CONTENT_TYPE, "host", "127.0.0.1:8080",
                "x-tc-timestamp", Long.toString(ts), "x-tc-action", "DescribeDisks"), body);
    }
}
