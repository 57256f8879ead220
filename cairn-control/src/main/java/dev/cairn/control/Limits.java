package dev.cairn.control;

import java.util.EnumMap;
import java.util.Map;

/**
 * Quotas and per-request caps, Tencent's documented values by default (see the reference §6).
 *
 * <p>Data disk sizes stop at 16000 GiB (not Tencent's 32000): a disk is one sparse file and ext4 caps a
 * file at 16 TiB. Auto-snapshot policies: 30 per account (Tencent's per-region quota as far as it is
 * known), 80 disks per BindAutoSnapshotPolicy call (documented), and — Cairn's own choice, Tencent does
 * not publish one — 1,000 disks per policy. Snapshots: 64 per disk, and no limit per region (Tencent's
 * current rule). The per-account quotas ({@link Quotas}) start from these. Deleted snapshots go to a recycle
 * bin for {@code snapshotRecycleDays} (0 by default: deleted at once).
 */
public record Limits(
        Map<DiskType, SizeRule> dataDiskSizes,
        SizeRule systemDiskSize,
        int disksPerCreate,
        int dataDisksPerInstance,
        int instancesPerRun,
        int instancesPerAccount,
        int disksPerAttach,
        int disksPerTerminate,
        int instancesPerAction,
        int idsPerDescribe,
        int policiesPerAccount,
        int disksPerBind,
        int disksPerPolicy,
        long snapshotsPerDisk,
        long snapshotsPerRegion,
        int snapshotRecycleDays) {

    /** Allowed sizes in GiB: {@code min <= size <= max} and {@code size % step == 0}. */
    public record SizeRule(long min, long max, long step) {
        public boolean allows(long gib) {
            return gib >= min && gib <= max && gib % step == 0;
        }

        @Override
        public String toString() {
            return min + ".." + max + " GiB" + (step > 1 ? " in steps of " + step : "");
        }
    }

    public Limits {
        dataDiskSizes = Map.copyOf(dataDiskSizes);
    }

    public static Limits defaults() {
        Map<DiskType, SizeRule> sizes = new EnumMap<>(DiskType.class);
        sizes.put(DiskType.CLOUD_BASIC, new SizeRule(10, 16000, 10));
        sizes.put(DiskType.CLOUD_PREMIUM, new SizeRule(10, 16000, 10));
        sizes.put(DiskType.CLOUD_BSSD, new SizeRule(20, 16000, 1));
        sizes.put(DiskType.CLOUD_SSD, new SizeRule(20, 16000, 1));
        sizes.put(DiskType.CLOUD_HSSD, new SizeRule(20, 16000, 1));
        sizes.put(DiskType.CLOUD_TSSD, new SizeRule(20, 16000, 1));
        return new Limits(sizes, new SizeRule(20, 1024, 1), 50, 20, 100, 500, 10, 100, 100, 100, 30, 80, 1000, 64, -1, 0);
    }

    /** These limits with deleted snapshots kept in the recycle bin for {@code days} (0: deleted at once). */
    public Limits withSnapshotRecycleDays(int days) {
        if (days < 0 || days > 365) throw new IllegalArgumentException("snapshot recycle days must be 0-365, got " + days);
        return new Limits(dataDiskSizes, systemDiskSize, disksPerCreate, dataDisksPerInstance, instancesPerRun, instancesPerAccount,
                disksPerAttach, disksPerTerminate, instancesPerAction, idsPerDescribe, policiesPerAccount, disksPerBind, disksPerPolicy,
                snapshotsPerDisk, snapshotsPerRegion, days);
    }

    public SizeRule dataDiskSize(DiskType type) {
        return dataDiskSizes.get(type);
    }
}
