package dev.cairn.control;

/**
 * Why a domain operation refused: the closed set of failures that callers may show to users. The API
 * turns each into a Tencent error code in one place; anything else thrown by the control plane is an
 * internal failure. Messages name the field or resource and are safe to show.
 */
public abstract sealed class ControlException extends RuntimeException {

    ControlException(String message) {
        super(message, null, false, false); // a refusal, not a bug: no stack trace needed
    }

    public enum ResourceKind { DISK, INSTANCE, IMAGE, SNAPSHOT, SNAPSHOT_GROUP, AUTO_SNAPSHOT_POLICY, ACCOUNT }

    /** The id is well-formed but names nothing the caller owns (or nothing at all). */
    public static final class NotFound extends ControlException {
        private final ResourceKind kind;
        private final String id;

        public NotFound(ResourceKind kind, String id) {
            this(kind, id, describe(kind) + " `" + id + "` does not exist");
        }

        public NotFound(ResourceKind kind, String id, String message) {
            super(message);
            this.kind = kind;
            this.id = id;
        }

        private static String describe(ResourceKind kind) {
            return switch (kind) {
                case DISK -> "disk";
                case INSTANCE -> "instance";
                case IMAGE -> "image";
                case SNAPSHOT -> "snapshot";
                case SNAPSHOT_GROUP -> "snapshot group";
                case AUTO_SNAPSHOT_POLICY -> "auto-snapshot policy";
                case ACCOUNT -> "account";
            };
        }

        public ResourceKind kind() { return kind; }
        public String id() { return id; }
    }

    /** A parameter value the domain rejects; {@code field} is the request field's name. */
    public static final class InvalidValue extends ControlException {
        public enum Reason { VALUE, ZONE, TOO_MANY, RANGE, DISK_CONFIG, INSTANCE_TYPE, NAME_TOO_LONG, CONFLICT, DUPLICATE, UNSUPPORTED }

        private final String field;
        private final Reason reason;

        public InvalidValue(String field, Reason reason, String message) {
            super(message);
            this.field = field;
            this.reason = reason;
        }

        public String field() { return field; }
        public Reason reason() { return reason; }
    }

    /** An account or instance quota would be exceeded. */
    public static final class QuotaExceeded extends ControlException {
        public enum Quota { INSTANCE_ATTACHED_DISKS, INSTANCES_PER_ACCOUNT, POLICIES_PER_ACCOUNT, DISKS_PER_POLICY, SNAPSHOTS_PER_DISK, SNAPSHOTS_PER_REGION, SHARES_PER_SNAPSHOT }

        private final Quota quota;

        public QuotaExceeded(Quota quota, String message) {
            super(message);
            this.quota = quota;
        }

        public Quota quota() { return quota; }
    }

    /** The disk's current state or kind does not allow the operation. */
    public static final class DiskConflict extends ControlException {
        public enum Problem {
            ATTACHED, NOT_ATTACHED, BUSY, SYSTEM_DISK, NOT_PORTABLE, ZONE_MISMATCH, WRONG_INSTANCE,
            /** A snapshot of the disk is being taken (InvalidDisk.SnapshotCreating). */
            SNAPSHOT_CREATING,
            /** The disk is rolling back (ResourceInUse.DiskRollbacking). */
            ROLLBACKING,
            /** The disk's instance must be stopped first (UnsupportedOperation.InstanceNotStopped). */
            INSTANCE_RUNNING,
            /** The disk is bound to another auto-snapshot policy (InvalidDisk.AlreadyBound). */
            ALREADY_BOUND
        }

        private final String diskId;
        private final Problem problem;

        public DiskConflict(String diskId, Problem problem, String message) {
            super(message);
            this.diskId = diskId;
            this.problem = problem;
        }

        public String diskId() { return diskId; }
        public Problem problem() { return problem; }
    }

    /**
     * The instance's state does not allow the operation. {@code asAttachTarget} says the instance was
     * the target of a disk attach (Tencent answers that differently from a state change).
     */
    public static final class InstanceConflict extends ControlException {
        private final String instanceId;
        private final InstanceState state;
        private final boolean asAttachTarget;

        public InstanceConflict(String instanceId, InstanceState state, boolean asAttachTarget, String message) {
            super(message);
            this.instanceId = instanceId;
            this.state = state;
            this.asAttachTarget = asAttachTarget;
        }

        public String instanceId() { return instanceId; }
        public InstanceState state() { return state; }
        public boolean asAttachTarget() { return asAttachTarget; }
    }

    /** The snapshot's state or use does not allow the operation. */
    public static final class SnapshotConflict extends ControlException {
        public enum Problem {
            /** Still CREATING (Tencent: ResourceUnavailable.SnapshotCreating). */
            CREATING,
            /** Rolling a disk back (ResourceBusy). */
            BUSY,
            /** Taken of another disk than the one named (InvalidParameterValue… Tencent: InvalidSnapshot.NotSupported). */
            OTHER_DISK,
            /** A system-disk snapshot used where a data-disk one is needed (InvalidParameter.ShouldConvertSnapshotToImage). */
            SYSTEM_DISK,
            /** A disk from it would be smaller than the snapshot (InvalidParameter.DiskSizeNotMatch). */
            SIZE,
            /** Only data-disk snapshots can be shared (InvalidSnapshot.NotSupported). */
            NOT_SHAREABLE,
            /** Locked against deletion, or a lock would be shortened (UnsupportedOperation.SnapshotLocked). */
            LOCKED,
            /** Shared with other accounts: unshare before deleting (UnsupportedOperation.SnapHasShared). */
            SHARED,
            /** Used by an image: delete it first or with it (UnsupportedOperation.SnapshotHasBindedImage). */
            HAS_IMAGE,
            /** In the recycle bin: recover it first (ResourceUnavailable.SnapshotInRecycleBin); or not in it, for a recover. */
            RECYCLED
        }

        private final String snapshotId;
        private final Problem problem;

        public SnapshotConflict(String snapshotId, Problem problem, String message) {
            super(message);
            this.snapshotId = snapshotId;
            this.problem = problem;
        }

        public String snapshotId() { return snapshotId; }
        public Problem problem() { return problem; }
    }

    /** The image's owner, state or sharing does not allow the operation. */
    public static final class ImageConflict extends ControlException {
        public enum Problem {
            /** Shared with the caller, not the caller's (UnauthorizedOperation.ImageNotBelongToAccount). */
            NOT_OWNER,
            /** Shared with its own account (InvalidAccountIs.YourSelf). */
            SELF,
            /** Already shared with that account (FailedOperation.AccountAlreadyExists). */
            ALREADY_SHARED,
            /** Still shared: unshare before deleting (InvalidImageId.InShared). */
            IN_SHARE,
            /** Not NORMAL (InvalidImageId.IncorrectState). */
            NOT_NORMAL,
            /** More than 500 accounts (OverQuota). */
            TOO_MANY
        }

        private final Problem problem;

        public ImageConflict(Problem problem, String message) {
            super(message);
            this.problem = problem;
        }

        public Problem problem() { return problem; }
    }

    /** Snapshots cannot be served: no repository, or it failed (Tencent: InternalError.ComponentError). */
    public static final class SnapshotsUnavailable extends ControlException {
        public SnapshotsUnavailable(String message) {
            super(message);
        }
    }

    /** The caller may not do this (e.g. a non-admin creating accounts). */
    public static final class Unauthorized extends ControlException {
        public Unauthorized(String message) {
            super(message);
        }
    }

    /** A DryRun request passed every check; nothing was changed. */
    public static final class DryRunPassed extends ControlException {
        public DryRunPassed(String message) {
            super(message);
        }
    }
}
