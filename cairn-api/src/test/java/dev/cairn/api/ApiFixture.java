package dev.cairn.api;

import com.tencentcloudapi.cbs.v20170312.CbsClient;
import com.tencentcloudapi.common.CommonClient;
import com.tencentcloudapi.common.Credential;
import com.tencentcloudapi.common.exception.TencentCloudSDKException;
import com.tencentcloudapi.common.profile.ClientProfile;
import com.tencentcloudapi.common.profile.HttpProfile;
import com.tencentcloudapi.cvm.v20170312.CvmClient;
import dev.cairn.control.Accounts;
import dev.cairn.control.Catalog;
import dev.cairn.control.CloudControl;
import dev.cairn.control.Limits;
import dev.cairn.control.Region;
import dev.cairn.volume.VolumeManager;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A real Cairn API for tests: SQLite catalog, volumes and a local snapshot repository in a temp dir, the control plane, and an
 * {@link ApiServer} on 127.0.0.1 at a free port; plus official Tencent SDK clients pointed at it.
 */
final class ApiFixture implements AutoCloseable {
    final Path dir;
    final Catalog catalog;
    final VolumeManager volumes;
    final dev.cairn.repository.Repository repository;
    final dev.cairn.snapshot.BaseCache cache;
    final CloudControl control;
    final ApiServer server;
    final Accounts.Credentials admin;
    final PrometheusRegistry registry = new PrometheusRegistry();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    ApiFixture() throws Exception {
        this(InstantSource.system());
    }

    /** @param clock the service clock (a {@link dev.cairn.control.TestClock} for time-driven tests) */
    ApiFixture(InstantSource clock) throws Exception {
        this(clock, Region.defaultRegion());
    }

    /** A Cairn serving {@code region} (several fixtures are several regions, each with its own repository). */
    ApiFixture(InstantSource clock, Region region) throws Exception {
        this(clock, region, dev.cairn.repository.RepositoryOptions.defaults());
    }

    /** … whose repository is created with {@code options} (e.g. encrypted). */
    ApiFixture(InstantSource clock, Region region, dev.cairn.repository.RepositoryOptions options) throws Exception {
        dir = Files.createTempDirectory("cairn-api-test-");
        catalog = Catalog.sqlite(dir.resolve("cairn.db"));
        repository = dev.cairn.repository.Repository.create(dev.cairn.repository.backend.local.LocalBackend.open(dir.resolve("repository")),
                options);
        cache = new dev.cairn.snapshot.BaseCache(dir.resolve("cache"), repository);
        volumes = new VolumeManager(dir.resolve("volumes"), repository.blockSize(), cache);
        control = new CloudControl(catalog, volumes, new dev.cairn.snapshot.SnapshotEngine(repository, volumes, cache, 2),
                region, Limits.defaults(), clock, 0);
        admin = control.accounts().bootstrapAdmin();
        server = new ApiServer(new InetSocketAddress("127.0.0.1", 0), control, registry);
        server.start();
    }

    String endpoint() {
        return "127.0.0.1:" + server.address().getPort();
    }

    URI uri(String path) {
        return URI.create("http://" + endpoint() + path);
    }

    ClientProfile profile() {
        HttpProfile http = new HttpProfile();
        http.setEndpoint(endpoint());
        http.setProtocol("http://");
        ClientProfile p = new ClientProfile();
        p.setHttpProfile(http);
        return p;
    }

    static Credential credential(Accounts.Credentials c) {
        return new Credential(c.secretId(), c.secretKey());
    }

    CbsClient cbs(Accounts.Credentials c) {
        return new CbsClient(credential(c), control.region().name(), profile());
    }

    CvmClient cvm(Accounts.Credentials c) {
        return new CvmClient(credential(c), control.region().name(), profile());
    }

    /** For actions the typed jars lack (and raw JSON bodies): {@code call(action, json)}. */
    CommonClient common(Accounts.Credentials c) {
        return new CommonClient("cbs", TencentApi.VERSION, credential(c), control.region().name(), profile());
    }

    HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    /** Runs {@code call} and expects the SDK to throw with {@code code}. */
    static void assertCode(String code, SdkCall call) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(TencentCloudSDKException.class, e -> {
            if (!code.equals(e.getErrorCode())) {
                throw new AssertionError("expected " + code + " but got " + e.getErrorCode() + ": " + e.getMessage());
            }
            if (e.getRequestId() == null || e.getRequestId().isEmpty()) throw new AssertionError("no RequestId in " + e);
        });
    }

    @FunctionalInterface
    interface SdkCall {
        void run() throws Exception;
    }

    @Override
    public void close() throws java.io.IOException {
        server.close();
        control.close();
        catalog.close();
        volumes.close();
        cache.close();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
