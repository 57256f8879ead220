package dev.cairn.api;

import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.RegionPeer;
import dev.cairn.control.SnapshotCopies;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Cross-region copies. {@code CopySnapshotCrossRegions} is Tencent's; Cairn adds
 * {@code DescribeSnapshotCopies} ({@code {"SnapshotId"?}} → the caller's copies with progress) and the
 * three actions one region's Cairn calls on another's with that region's admin key
 * ({@code BeginSnapshotCopy}, {@code PutSnapshotCopyBlocks}, {@code CompleteSnapshotCopy}; see
 * docs/cross-region.md for their fields). Thread-safe.
 */
final class CopyActions {
    private static final Pattern CHUNK_ID = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern REPOSITORY_ID = Pattern.compile("[0-9a-f]{8,64}");
    private static final Pattern REGION = Pattern.compile("[a-z][a-z0-9-]{1,40}[a-z0-9]");

    private final CloudControl control;

    CopyActions(CloudControl control) {
        this.control = control;
    }

    record CopyResult(String snapshotId, String message, String code, String destinationRegion) {}

    record CopyResultSet(List<CopyResult> snapshotCopyResultSet) {}

    Object copySnapshotCrossRegions(Caller caller, Params p) {
        List<String> regions = p.requiredStrings("DestinationRegions");
        String id = p.id("SnapshotId", SnapshotActions.SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId"));
        String name = p.string("SnapshotName").orElse(null);
        p.end();
        for (String r : regions) Params.checkId("DestinationRegions", r, REGION, "InvalidParameterValue");
        if (name != null && name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 60) {
            throw new ApiError("InvalidParameterValue", "`SnapshotName` may have at most 60 bytes.");
        }
        return new CopyResultSet(control.snapshotCopies().copy(caller, id, regions, name).stream()
                .map(r -> new CopyResult(r.snapshotId(), r.message(), r.code(), r.region())).toList());
    }

    record CopyView(String copySnapshotId, String snapshotId, String destinationRegion, String state, long percent, long blocksTotal,
                    long blocksDone, long chunksSent, long bytesSent, long attempts, String error, String createTime, String finishTime) {}

    record CopiesResult(long totalCount, List<CopyView> copySet) {}

    Object describeSnapshotCopies(Caller caller, Params p) {
        String id = p.id("SnapshotId", SnapshotActions.SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElse(null);
        p.end();
        List<CopyView> copies = control.snapshotCopies().describe(caller, id).stream().map(CopyActions::view).toList();
        return new CopiesResult(copies.size(), copies);
    }

    private static CopyView view(SnapshotCopies.Copy c) {
        return new CopyView(c.copySnapshotId(), c.snapshotId(), c.region(), c.state().name(), c.percent(), c.blocksTotal(), c.blocksDone(),
                c.chunksSent(), c.bytesSent(), c.attempts(), c.error(), c.createdAt().toString(),
                c.finishedAt() == null ? null : c.finishedAt().toString());
    }

    // ------------------------------------------------------------------ called by another region's Cairn

    record StateResult(String snapshotState) {}

    Object beginSnapshotCopy(Caller caller, Params p) {
        var start = new RegionPeer.CopyStart(
                p.id("SnapshotId", SnapshotActions.SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId")),
                p.integer("AccountId", 1, Long.MAX_VALUE).orElseThrow(() -> ApiError.missing("AccountId")),
                p.requiredString("SnapshotName"),
                Params.checkId("SourceRegion", p.requiredString("SourceRegion"), REGION, "InvalidParameterValue"),
                Params.checkId("SourceSnapshotId", p.requiredString("SourceSnapshotId"), SnapshotActions.SNAPSHOT_ID, "InvalidParameterValue"),
                Params.checkId("SourceRepository", p.requiredString("SourceRepository"), REPOSITORY_ID, "InvalidParameterValue"),
                p.requiredString("DiskId"),
                p.integer("DiskSize", 1, 1L << 20).orElseThrow(() -> ApiError.missing("DiskSize")),
                p.oneOf("DiskUsage", List.of("SYSTEM_DISK", "DATA_DISK")).orElseThrow(() -> ApiError.missing("DiskUsage")),
                p.requiredString("Zone"),
                p.integer("DiskBytes", 1, Long.MAX_VALUE).orElseThrow(() -> ApiError.missing("DiskBytes")),
                (int) (long) p.integer("BlockSize", 4096, 16 << 20).orElseThrow(() -> ApiError.missing("BlockSize")),
                p.bool("StoredChunks").orElse(false),
                p.bool("Resume").orElse(false));
        p.end();
        RegionPeer.Begun begun = control.copyReceiver().begin(caller, start);
        return new BeginResult(begun.state(), begun.storedChunks());
    }

    record BeginResult(String snapshotState, boolean storedChunks) {}

    record MissingResult(List<Long> missingBlocks) {}

    Object putSnapshotCopyBlocks(Caller caller, Params p) {
        String id = p.id("SnapshotId", SnapshotActions.SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId"));
        long done = p.integer("BlocksDone", 0, Long.MAX_VALUE).orElse(0L);
        long total = p.integer("BlocksTotal", 0, Long.MAX_VALUE).orElse(0L);
        List<RegionPeer.CopyBlock> blocks = p.objects("Blocks", b -> new RegionPeer.CopyBlock(
                b.integer("Index", 0, Long.MAX_VALUE).orElseThrow(() -> ApiError.missing(b.path("Index"))),
                Params.checkId(b.path("SourceChunkId"), b.requiredString("SourceChunkId"), CHUNK_ID, "InvalidParameterValue"),
                b.string("Data").map(d -> decode(b.path("Data"), d)).orElse(null))).orElseThrow(() -> ApiError.missing("Blocks"));
        p.end();
        return new MissingResult(control.copyReceiver().putBlocks(caller, id, blocks, done, total));
    }

    private static byte[] decode(String field, String base64) {
        try {
            return Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new ApiError("InvalidParameterValue", "`" + field + "` is not base64: " + Params.clip(e.getMessage()));
        }
    }

    Object completeSnapshotCopy(Caller caller, Params p) {
        String id = p.id("SnapshotId", SnapshotActions.SNAPSHOT_ID, "InvalidSnapshotId.Malformed").orElseThrow(() -> ApiError.missing("SnapshotId"));
        p.end();
        control.copyReceiver().complete(caller, id);
        return new StateResult("NORMAL");
    }
}
