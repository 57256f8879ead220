package dev.cairn.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.control.Accounts.ApiKey;
import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.ControlException;
import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.DryRunPassed;
import dev.cairn.control.ControlException.InstanceConflict;
import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.QuotaExceeded;
import dev.cairn.control.ControlException.SnapshotConflict;
import dev.cairn.control.ControlException.SnapshotsUnavailable;
import dev.cairn.control.ControlException.Unauthorized;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.InstantSource;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import static java.util.Map.entry;

/**
 * The Tencent Cloud API 3.0 endpoint ({@code POST /}): protocol checks, TC3 signature, version and
 * region, routing by {@code X-TC-Action}, and the response envelopes. Every answer is HTTP 200 with
 * {@code {"Response":{…,"RequestId"}}} or {@code {"Response":{"Error":{"Code","Message"},"RequestId"}}}.
 *
 * <p>{@link #routes} is the one list of served actions; {@link #toTencent} the one place a failure
 * becomes a Tencent error code (internal failures are logged with the RequestId and answered
 * {@code InternalError} without details). Thread-safe; one call per request thread.
 */
final class TencentApi {
    private static final Logger log = LoggerFactory.getLogger(TencentApi.class);
    static final String VERSION = "2017-03-12";
    static final int MAX_BODY_BYTES = 1 << 20;
    /** A cross-region copy's block data travels in larger requests (8 MiB of blocks, in base64). */
    static final int MAX_COPY_BODY_BYTES = 15 << 20;

    /** The largest body served for {@code action}. */
    static int maxBodyBytes(String action) {
        return "PutSnapshotCopyBlocks".equals(action) ? MAX_COPY_BODY_BYTES : MAX_BODY_BYTES;
    }

    /** One action: reads its parameters, calls the domain, returns the response fields as a record. */
    @FunctionalInterface
    interface Action {
        Object handle(Caller caller, Params params);
    }

    /** A Tencent error: code and message. */
    record TcError(String code, String message) {}

    /** The HTTP request as the API needs it: method, headers (lowercase names), body or "too large". */
    record ApiRequest(Tc3Signature.SignedRequest signed, boolean bodyTooLarge) {}

    static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.UPPER_CAMEL_CASE)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .build();

    private final CloudControl control;
    private final Map<String, Action> routes;
    private final InstantSource realClock;
    private final Counter requests;
    private final Histogram latency;

    /**
     * @param realClock the clock signatures are checked against: always the real system clock in
     *                  production ({@code InstantSource.system()}), whatever test clock the domain uses
     */
    TencentApi(CloudControl control, PrometheusRegistry registry, InstantSource realClock) {
        this.control = control;
        this.routes = routes(new CbsActions(control), new SnapshotActions(control), new PolicyActions(control), new CvmActions(control),
                new CairnActions(control), new CopyActions(control));
        this.realClock = realClock;
        this.requests = Counter.builder().name("cairn_api_requests_total")
                .help("Tencent API requests by action and result code (Success or the error code)")
                .labelNames("action", "code").register(registry);
        this.latency = Histogram.builder().name("cairn_api_request_duration_seconds")
                .help("Tencent API request latency by action").labelNames("action")
                .classicUpperBounds(0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
                .register(registry);
        SchedulerMetrics.register(registry, control);
    }

    /** Every action served, by {@code X-TC-Action}. CBS and CVM names do not overlap. */
    static Map<String, Action> routes(CbsActions cbs, SnapshotActions snap, PolicyActions policy, CvmActions cvm, CairnActions cairn,
                                     CopyActions copies) {
        return Map.ofEntries(
                // CVM subset
                entry("DescribeRegions", cvm::describeRegions),
                entry("DescribeZones", cvm::describeZones),
                entry("DescribeImages", cvm::describeImages),
                entry("CreateImage", cvm::createImage),
                entry("DeleteImages", cvm::deleteImages),
                entry("ModifyImageSharePermission", cvm::modifyImageSharePermission),
                entry("DescribeImageSharePermission", cvm::describeImageSharePermission),
                entry("RunInstances", cvm::runInstances),
                entry("DescribeInstances", cvm::describeInstances),
                entry("StartInstances", cvm::startInstances),
                entry("StopInstances", cvm::stopInstances),
                entry("RebootInstances", cvm::rebootInstances),
                entry("TerminateInstances", cvm::terminateInstances),
                // CBS disks
                entry("CreateDisks", cbs::createDisks),
                entry("DescribeDisks", cbs::describeDisks),
                entry("AttachDisks", cbs::attachDisks),
                entry("DetachDisks", cbs::detachDisks),
                entry("ResizeDisk", cbs::resizeDisk),
                entry("ModifyDiskAttributes", cbs::modifyDiskAttributes),
                entry("TerminateDisks", cbs::terminateDisks),
                entry("DescribeInstancesDiskNum", cbs::describeInstancesDiskNum),
                entry("DescribeDiskConfigQuota", cbs::describeDiskConfigQuota),
                entry("InquiryPriceCreateDisks", cbs::inquiryPriceCreateDisks),
                // CBS snapshots
                entry("CreateSnapshot", snap::createSnapshot),
                entry("DescribeSnapshots", snap::describeSnapshots),
                entry("ModifySnapshotAttribute", snap::modifySnapshotAttribute),
                entry("DeleteSnapshots", snap::deleteSnapshots),
                entry("ApplySnapshot", snap::applySnapshot),
                entry("InitializeDisks", snap::initializeDisks),
                entry("GetSnapOverview", snap::overview),
                entry("DescribeSnapshotOverview", snap::overview),
                entry("CreateSnapshotGroup", snap::createSnapshotGroup),
                entry("DescribeSnapshotGroups", snap::describeSnapshotGroups),
                entry("ApplySnapshotGroup", snap::applySnapshotGroup),
                entry("DeleteSnapshotGroup", snap::deleteSnapshotGroup),
                entry("ModifySnapshotsSharePermission", snap::modifySharePermission),
                entry("ModifySnapshotLock", snap::modifyLock),
                entry("DescribeRecycledSnapshots", snap::describeRecycled),
                entry("RecoverSnapshots", snap::recover),
                entry("CopySnapshotCrossRegions", copies::copySnapshotCrossRegions),
                entry("DescribeSnapshotSharePermission", snap::describeSharePermission),
                entry("DescribeSnapshotOperationLogs", policy::snapshotLogs),
                entry("DescribeDiskOperationLogs", policy::diskLogs),
                // CBS auto-snapshot policies
                entry("CreateAutoSnapshotPolicy", policy::create),
                entry("DescribeAutoSnapshotPolicies", policy::describe),
                entry("ModifyAutoSnapshotPolicyAttribute", policy::modify),
                entry("DeleteAutoSnapshotPolicies", policy::delete),
                entry("BindAutoSnapshotPolicy", policy::bind),
                entry("UnbindAutoSnapshotPolicy", policy::unbind),
                entry("DescribeDiskAssociatedAutoSnapshotPolicy", policy::ofDisk),
                // Cairn's own
                entry("CreateAccount", cairn::createAccount),
                entry("DescribeClock", cairn::describeClock),
                entry("AdvanceClock", cairn::advanceClock),
                entry("DescribeSnapshotSpace", snap::describeSnapshotSpace),
                entry("VerifyRepository", snap::verifyRepository),
                entry("CollectRepositoryGarbage", snap::collectGarbage),
                entry("DescribeRepository", snap::describeRepository),
                entry("RebuildCatalog", snap::rebuildCatalog),
                entry("DescribeAutoSnapshotPolicyRuns", policy::runs),
                entry("DescribeAccountQuotas", cairn::describeQuotas),
                entry("DescribeSnapshotBilling", cairn::describeBilling),
                entry("DescribeEndpoints", cairn::describeEndpoints),
                entry("PublishImage", cairn::publishImage),
                entry("ModifyAccountQuota", cairn::modifyQuota),
                entry("DescribeSnapshotCopies", copies::describeSnapshotCopies),
                entry("BeginSnapshotCopy", copies::beginSnapshotCopy),
                entry("PutSnapshotCopyBlocks", copies::putSnapshotCopyBlocks),
                entry("CompleteSnapshotCopy", copies::completeSnapshotCopy));
    }

    Map<String, Action> routes() {
        return routes;
    }

    /** Answers one request; never throws. Returns the JSON bytes of the envelope. */
    byte[] handle(ApiRequest request) {
        long start = System.nanoTime();
        String requestId = UUID.randomUUID().toString();
        Tc3Signature.SignedRequest r = request.signed();
        String action = r.header("x-tc-action");
        String label = action != null && routes.containsKey(action) ? action : "unknown";
        Long account = null;
        ObjectNode response;
        String code;
        try {
            ApiKey key = authenticate(request);
            account = key.accountId();
            Action handler = route(action, r);
            Caller caller = new Caller(key.accountId(), key.admin(), requestId);
            Object result = handler.handle(caller, Params.of(parse(r.body())));
            response = JSON.valueToTree(result);
            code = "Success";
        } catch (Throwable failure) {
            TcError e = toTencent(failure, requestId);
            response = JsonNodeFactory.instance.objectNode();
            response.putObject("Error").put("Code", e.code()).put("Message", e.message());
            code = e.code();
        }
        response.put("RequestId", requestId);
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.set("Response", response);
        double seconds = (System.nanoTime() - start) / 1e9;
        requests.labelValues(label, code).inc();
        latency.labelValues(label).observe(seconds);
        log.info("api request_id={} action={} account={} code={} ms={}", requestId, action, account, code,
                String.format(Locale.ROOT, "%.1f", seconds * 1000));
        try {
            return JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            log.error("api request_id={} response serialisation failed", requestId, e);
            return ("{\"Response\":{\"Error\":{\"Code\":\"InternalError\",\"Message\":\"internal error, request " + requestId
                    + "\"},\"RequestId\":\"" + requestId + "\"}}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private ApiKey authenticate(ApiRequest request) {
        Tc3Signature.SignedRequest r = request.signed();
        if (!r.method().equals("POST")) {
            throw new ApiError("UnsupportedProtocol", "Cairn serves the Tencent API as POST / with a JSON body; got " + r.method() + ".");
        }
        String contentType = r.header("content-type");
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw new ApiError("UnsupportedProtocol", "Content-Type must be application/json (form and GET variants are not served); got "
                    + (contentType == null ? "none" : "'" + Params.clip(contentType) + "'") + ".");
        }
        if (request.bodyTooLarge()) {
            throw new ApiError("RequestSizeLimitExceeded", "The request body is larger than " + maxBodyBytes(r.header("x-tc-action")) + " bytes.");
        }
        return Tc3Signature.verify(r, control.accounts()::findKey, realClock);
    }

    private Action route(String action, Tc3Signature.SignedRequest r) {
        if (action == null || action.isEmpty()) throw ApiError.missing("X-TC-Action");
        String version = r.header("x-tc-version");
        if (version == null || version.isEmpty()) throw ApiError.missing("X-TC-Version");
        Action handler = routes.get(action);
        if (handler == null) throw new ApiError("InvalidAction", "The action `" + Params.clip(action) + "` is not supported by Cairn.");
        if (!version.equals(VERSION)) {
            throw new ApiError("NoSuchVersion", "The API version `" + Params.clip(version) + "` is not supported; use " + VERSION + ".");
        }
        String region = r.header("x-tc-region");
        if (region != null && !region.isEmpty() && !region.equals(control.region().name()) && !action.equals("DescribeRegions")) {
            throw new ApiError("UnsupportedRegion", "This Cairn serves region " + control.region().name() + ", not `"
                    + Params.clip(region) + "`.");
        }
        return handler;
    }

    private static JsonNode parse(byte[] body) {
        if (body.length == 0) return JsonNodeFactory.instance.objectNode();
        try {
            return JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new ApiError("InvalidParameter", "The request body is not valid JSON: " + Params.clip(e.getOriginalMessage()));
        } catch (java.io.IOException e) {
            throw new ApiError("InvalidParameter", "The request body could not be read as JSON.");
        }
    }

    /** The one mapping from a failure to Tencent's error code (see docs/api.md for the table). */
    static TcError toTencent(Throwable failure, String requestId) {
        return switch (failure) {
            case ApiError e -> new TcError(e.code(), e.getMessage());
            case NotFound e -> new TcError(switch (e.kind()) {
                case DISK -> "InvalidDiskId.NotFound";
                case INSTANCE -> "InvalidInstanceId.NotFound";
                case IMAGE -> "InvalidImageId.NotFound";
                case SNAPSHOT -> "InvalidSnapshotId.NotFound";
                case SNAPSHOT_GROUP -> "ResourceNotFound.NotFound";
                case AUTO_SNAPSHOT_POLICY -> "InvalidAutoSnapshotPolicyId.NotFound";
                case ACCOUNT -> "InvalidAccountId.NotFound";
            }, e.getMessage());
            case InvalidValue e -> new TcError(switch (e.reason()) {
                case VALUE -> "InvalidParameterValue";
                case ZONE -> "InvalidParameterValue.ZoneNotSupported";
                case TOO_MANY -> "InvalidParameterValue.LimitExceeded";
                case RANGE -> "InvalidParameterValue.Range";
                case DISK_CONFIG -> "InvalidParameter.DiskConfigNotSupported";
                case INSTANCE_TYPE -> "InvalidInstanceType.Malformed";
                case NAME_TOO_LONG -> "InvalidInstanceName.TooLong";
                case CONFLICT -> "InvalidParameter";
                case DUPLICATE -> "InvalidParameterValue.Duplicate";
                case UNSUPPORTED -> "UnsupportedOperation";
            }, e.getMessage());
            case QuotaExceeded e -> new TcError(switch (e.quota()) {
                case INSTANCE_ATTACHED_DISKS -> "LimitExceeded.InstanceAttachedDisk";
                case INSTANCES_PER_ACCOUNT -> "LimitExceeded.InstanceQuota";
                case POLICIES_PER_ACCOUNT -> "LimitExceeded.AutoSnapshotPolicyOutOfQuota";
                case DISKS_PER_POLICY -> "InvalidParameterValue.BindDiskLimitExceeded";
                case SNAPSHOTS_PER_DISK, SNAPSHOTS_PER_REGION -> "InsufficientSnapshotQuota";
                case SHARES_PER_SNAPSHOT -> "ResourceInsufficient.OverQuota";
            }, e.getMessage());
            case DiskConflict e -> new TcError(switch (e.problem()) {
                case ATTACHED -> "ResourceUnavailable.Attached";
                case NOT_ATTACHED -> "InvalidDisk.NotSupported";
                case BUSY -> "ResourceBusy";
                case SYSTEM_DISK -> "ResourceUnavailable.TypeError";
                case NOT_PORTABLE -> "InvalidDisk.NotPortable";
                case ZONE_MISMATCH -> "ResourceUnavailable.ZoneNotMatch";
                case WRONG_INSTANCE -> "InvalidParameterValue";
                case SNAPSHOT_CREATING -> "InvalidDisk.SnapshotCreating";
                case ROLLBACKING -> "ResourceInUse.DiskRollbacking";
                case INSTANCE_RUNNING -> "UnsupportedOperation.InstanceNotStopped";
                case ALREADY_BOUND -> "InvalidDisk.AlreadyBound";
            }, e.getMessage());
            case SnapshotConflict e -> new TcError(switch (e.problem()) {
                case CREATING -> "ResourceUnavailable.SnapshotCreating";
                case BUSY -> "ResourceBusy";
                case OTHER_DISK, NOT_SHAREABLE -> "InvalidSnapshot.NotSupported";
                case LOCKED -> "UnsupportedOperation.SnapshotLocked";
                case SHARED -> "UnsupportedOperation.SnapHasShared";
                case HAS_IMAGE -> "UnsupportedOperation.SnapshotHasBindedImage";
                case RECYCLED -> "ResourceUnavailable.SnapshotInRecycleBin";
                case SYSTEM_DISK -> "InvalidParameter.ShouldConvertSnapshotToImage";
                case SIZE -> "InvalidParameter.DiskSizeNotMatch";
            }, e.getMessage());
            case SnapshotsUnavailable e -> new TcError("InternalError.ComponentError", e.getMessage());
            case ControlException.ImageConflict e -> new TcError(switch (e.problem()) {
                case NOT_OWNER -> "UnauthorizedOperation.ImageNotBelongToAccount";
                case SELF -> "InvalidAccountIs.YourSelf";
                case ALREADY_SHARED -> "FailedOperation.AccountAlreadyExists";
                case IN_SHARE -> "InvalidImageId.InShared";
                case NOT_NORMAL -> "InvalidImageId.IncorrectState";
                case TOO_MANY -> "OverQuota";
            }, e.getMessage());
            case InstanceConflict e -> new TcError(e.asAttachTarget() ? "InvalidInstance.NotSupported"
                    : "UnsupportedOperation.InstanceState" + camel(e.state().name()), e.getMessage());
            case Unauthorized e -> new TcError("UnauthorizedOperation", e.getMessage());
            case DryRunPassed e -> new TcError("DryRunOperation", e.getMessage());
            case ControlException e -> internal(e, requestId); // a new kind nobody mapped yet: a bug
            default -> internal(failure, requestId);
        };
    }

    private static TcError internal(Throwable failure, String requestId) {
        log.error("api request_id={} internal error", requestId, failure);
        return new TcError("InternalError", "An internal error occurred; quote request " + requestId + ".");
    }

    /** {@code TERMINATING} → {@code Terminating}. */
    static String camel(String upper) {
        return upper.charAt(0) + upper.substring(1).toLowerCase(Locale.ROOT);
    }
}
