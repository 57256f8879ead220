package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.control.ControlException.SnapshotConflict;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Custom images (CVM's CreateImage/DescribeImages/DeleteImages): an image is a set of snapshots — the
 * system disk's, then data disks' — taken of an instance's disks at one barrier, or chosen from
 * existing snapshots. RunInstances with it lays each new disk over the image's snapshot and leaves it
 * layered (DESIGN §3): N instances cost one image plus what each of them changes.
 *
 * <p><b>What it keeps true.</b> The image row and its snapshot list are written in the transaction that
 * creates the snapshots (or checks them); a snapshot an image uses is not deleted unless the image goes
 * with it (DeleteBindImages). The image's state follows its snapshots: CREATING while one is, NORMAL
 * when all are, CREATEFAILED if a capture failed.
 *
 * <p>Thread-safe; each call is one catalog transaction (plus the captures, in the background).
 */
public final class ImageService {
    /** An image's snapshots in order (system first) and what each new disk starts from. */
    record Plan(Image image, List<Snapshot> snapshots) {}

    private final CloudControl control;
    private final Catalog catalog;
    private final InstantSource clock;

    ImageService(CloudControl control, Catalog catalog, InstantSource clock) {
        this.control = control;
        this.catalog = catalog;
        this.clock = clock;
    }

    /** CreateImage from an instance (its system disk and the data disks named) or from snapshots; returns the image id. */
    public String create(Caller caller, String name, String description, String instanceId, List<String> dataDiskIds, List<String> snapshotIds,
                         boolean dryRun) {
        return control.recorded(caller, "CreateImage", () -> {
            control.snapshots().engine();
            if (name == null || name.isBlank()) throw new InvalidValue("ImageName", InvalidValue.Reason.VALUE, "`ImageName` is required");
            CloudControl.requireName(name, "ImageName", 60, InvalidValue.Reason.VALUE);
            CloudControl.requireName(description, "ImageDescription", 256, InvalidValue.Reason.VALUE);
            if ((instanceId == null) == snapshotIds.isEmpty()) {
                throw new InvalidValue("InstanceId", InvalidValue.Reason.CONFLICT, "give `InstanceId` or `SnapshotIds`, exactly one of them");
            }
            if (instanceId == null && !dataDiskIds.isEmpty()) {
                throw new InvalidValue("DataDiskIds", InvalidValue.Reason.CONFLICT, "`DataDiskIds` goes with `InstanceId`");
            }
            String imageId = Ids.image();
            long now = clock.millis();
            if (instanceId != null) {
                List<String> disks = catalog.read(tx -> {
                    checkName(tx, caller, name);
                    Rows.ownInstance(tx, caller.accountId(), instanceId);
                    List<String> out = new ArrayList<>();
                    Rows.disksOfInstance(tx, instanceId).stream().filter(d -> d.diskUsage() == DiskUsage.SYSTEM_DISK).forEach(d -> out.add(d.diskId()));
                    for (String id : dataDiskIds) {
                        Disk d = Rows.ownDisk(tx, caller.accountId(), id);
                        if (!instanceId.equals(d.instanceId()) || d.diskUsage() != DiskUsage.DATA_DISK) {
                            throw new InvalidValue("DataDiskIds", InvalidValue.Reason.VALUE, "disk `" + id + "` is not a data disk of `" + instanceId + "`");
                        }
                        out.add(id);
                    }
                    if (out.isEmpty()) throw new InvalidValue("InstanceId", InvalidValue.Reason.VALUE, "instance `" + instanceId + "` has no system disk");
                    return out;
                });
                if (dryRun) throw new ControlException.DryRunPassed("CreateImage would have succeeded (DryRun)");
                int[] position = {0};
                control.snapshots().createForImage(caller, disks, "image " + imageId, (tx, snapshotId) -> {
                    if (position[0] == 0) insertImage(tx, caller, imageId, name, description, instanceId, now);
                    tx.update("INSERT INTO image_snapshots (image_id, snapshot_id, position) VALUES (?, ?, ?)", imageId, snapshotId, position[0]++);
                });
                return imageId;
            }
            catalog.write(tx -> {
                checkName(tx, caller, name);
                List<Snapshot> chosen = new ArrayList<>();
                for (String id : snapshotIds) {
                    Snapshot s = SnapshotService.ownSnapshot(tx, caller, id);
                    SnapshotService.requireSettled(s);
                    chosen.add(s);
                }
                List<Snapshot> system = chosen.stream().filter(s -> s.diskUsage() == DiskUsage.SYSTEM_DISK).toList();
                if (system.size() != 1) {
                    throw new InvalidValue("SnapshotIds", InvalidValue.Reason.VALUE, system.isEmpty()
                            ? "`SnapshotIds` needs the snapshot of a system disk" : "`SnapshotIds` has more than one system-disk snapshot");
                }
                if (dryRun) throw new ControlException.DryRunPassed("CreateImage would have succeeded (DryRun)");
                insertImage(tx, caller, imageId, name, description, null, now);
                int position = 0;
                tx.update("INSERT INTO image_snapshots (image_id, snapshot_id, position) VALUES (?, ?, ?)", imageId, system.getFirst().snapshotId(), position++);
                for (Snapshot s : chosen) {
                    if (s != system.getFirst()) {
                        tx.update("INSERT INTO image_snapshots (image_id, snapshot_id, position) VALUES (?, ?, ?)", imageId, s.snapshotId(), position++);
                    }
                }
                return null;
            });
            return imageId;
        });
    }

    private static void checkName(Catalog.Tx tx, Caller caller, String name) throws SQLException {
        if (tx.count("SELECT COUNT(*) FROM images WHERE account_id = ? AND name = ?", caller.accountId(), name) > 0) {
            throw new InvalidValue("ImageName", InvalidValue.Reason.DUPLICATE, "the account already has an image named `" + name + "`");
        }
    }

    private void insertImage(Catalog.Tx tx, Caller caller, String imageId, String name, String description, String instanceId, long now)
            throws SQLException {
        tx.update("INSERT INTO images (image_id, account_id, name, description, instance_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                imageId, caller.accountId(), name, description == null ? "" : description, instanceId, now);
        Rows.recordOps(tx, caller, "CreateImage", List.of(imageId), "SUCCESS", now, instanceId == null ? "from snapshots" : "from " + instanceId);
    }

    static final int MAX_SHARES = 500;

    /** The caller's custom images and those shared with it ({@code SHARED_IMAGE}), as CVM describes them. */
    public List<Image> visible(Caller caller) {
        return catalog.read(tx -> {
            List<Image> out = new ArrayList<>();
            for (String id : tx.query("SELECT image_id FROM images i WHERE account_id = ? OR is_public = ? OR EXISTS (SELECT 1 FROM image_shares s "
                    + "WHERE s.image_id = i.image_id AND s.account_id = ?) ORDER BY created_at, image_id", rs -> rs.getString(1),
                    caller.accountId(), true, caller.accountId())) {
                out.add(plan(tx, id, caller).image());
            }
            return out;
        });
    }

    /** The image with its snapshots (system first), for RunInstances: own, shared with the caller, or the blank public one. */
    Optional<Plan> find(Catalog.Tx tx, Caller caller, String imageId) throws SQLException {
        if (Image.BLANK.imageId().equals(imageId)) return Optional.of(new Plan(Image.BLANK, List.of()));
        if (tx.count("SELECT COUNT(*) FROM images i WHERE image_id = ? AND (account_id = ? OR is_public = ? OR EXISTS (SELECT 1 FROM image_shares s "
                + "WHERE s.image_id = i.image_id AND s.account_id = ?))", imageId, caller.accountId(), true, caller.accountId()) == 0) {
            return Optional.empty();
        }
        return Optional.of(plan(tx, imageId, caller));
    }

    /** Admin only: makes one of its images public — every account sees it and may launch instances from it. */
    public void publish(Caller caller, String imageId) {
        control.recorded(caller, "PublishImage", () -> {
            if (!caller.admin()) throw new ControlException.Unauthorized("only the admin account may publish images");
            catalog.write(tx -> {
                Plan p = owned(tx, caller, imageId);
                if (!p.image().imageState().equals("NORMAL")) {
                    throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.NOT_NORMAL, "image `" + imageId + "` is "
                            + p.image().imageState());
                }
                tx.update("UPDATE images SET is_public = ? WHERE image_id = ?", true, imageId);
                Rows.recordOps(tx, caller, "PublishImage", List.of(imageId), "SUCCESS", clock.millis(), "");
                return null;
            });
            return null;
        });
    }

    /** One account an image is shared with, and since when. */
    public record Share(long accountId, Instant since) {}

    /** ModifyImageSharePermission: the owner shares a NORMAL image with accounts (≤ 500), or stops sharing it. */
    public void share(Caller caller, String imageId, List<Long> accountIds, boolean share) {
        control.recorded(caller, "ModifyImageSharePermission", () -> {
            if (accountIds.isEmpty()) throw new InvalidValue("AccountIds", InvalidValue.Reason.VALUE, "`AccountIds` is empty");
            long now = clock.millis();
            catalog.write(tx -> {
                Plan p = owned(tx, caller, imageId);
                if (share && !p.image().imageState().equals("NORMAL")) {
                    throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.NOT_NORMAL, "image `" + imageId + "` is "
                            + p.image().imageState());
                }
                for (long account : accountIds) {
                    if (account == caller.accountId()) {
                        throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.SELF, "an image cannot be shared with its own account");
                    }
                    if (tx.count("SELECT COUNT(*) FROM accounts WHERE account_id = ?", account) == 0) throw new NotFound(ResourceKind.ACCOUNT, Long.toString(account));
                    boolean has = tx.count("SELECT COUNT(*) FROM image_shares WHERE image_id = ? AND account_id = ?", imageId, account) > 0;
                    if (share && has) {
                        throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.ALREADY_SHARED, "image `" + imageId
                                + "` is already shared with " + account);
                    }
                }
                for (long account : accountIds) {
                    tx.update("DELETE FROM image_shares WHERE image_id = ? AND account_id = ?", imageId, account);
                    if (share) tx.update("INSERT INTO image_shares (image_id, account_id, created_at) VALUES (?, ?, ?)", imageId, account, now);
                }
                if (tx.count("SELECT COUNT(*) FROM image_shares WHERE image_id = ?", imageId) > MAX_SHARES) {
                    throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.TOO_MANY, "an image is shared with "
                            + MAX_SHARES + " accounts at most");
                }
                Rows.recordOps(tx, caller, "ModifyImageSharePermission", List.of(imageId), "SUCCESS", now, (share ? "SHARE " : "CANCEL ") + accountIds);
                return null;
            });
            return null;
        });
    }

    /** DescribeImageSharePermission: whom the caller's image is shared with. */
    public List<Share> sharesOf(Caller caller, String imageId) {
        return catalog.read(tx -> {
            owned(tx, caller, imageId);
            return tx.query("SELECT account_id, created_at FROM image_shares WHERE image_id = ? ORDER BY created_at, account_id",
                    rs -> new Share(rs.getLong(1), Instant.ofEpochMilli(rs.getLong(2))), imageId);
        });
    }

    /** The caller's own image; one only shared with it is not its to change. */
    private Plan owned(Catalog.Tx tx, Caller caller, String imageId) throws SQLException {
        if (tx.count("SELECT COUNT(*) FROM images WHERE image_id = ? AND account_id = ?", imageId, caller.accountId()) > 0) {
            return plan(tx, imageId, caller);
        }
        if (tx.count("SELECT COUNT(*) FROM image_shares WHERE image_id = ? AND account_id = ?", imageId, caller.accountId()) > 0) {
            throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.NOT_OWNER, "image `" + imageId
                    + "` is shared with this account, not its own");
        }
        throw new NotFound(ResourceKind.IMAGE, imageId);
    }

    private Plan plan(Catalog.Tx tx, String imageId, Caller caller) throws SQLException {
        Plan p = plan(tx, imageId);
        boolean published = tx.count("SELECT COUNT(*) FROM images WHERE image_id = ? AND is_public = ?", imageId, true) > 0;
        long owner = tx.count("SELECT account_id FROM images WHERE image_id = ?", imageId);
        if (owner == caller.accountId() && !published) return p;
        Image i = p.image();
        return new Plan(new Image(i.imageId(), i.imageName(), published ? "PUBLIC_IMAGE" : "SHARED_IMAGE", i.osName(), i.platform(), i.architecture(), i.imageSizeGib(),
                i.imageState(), i.imageSource(), i.imageCreator(), i.description(), i.createdAt()), p.snapshots());
    }

    private Plan plan(Catalog.Tx tx, String imageId) throws SQLException {
        record Row(String name, String description, long createdAt) {}
        Row row = tx.first("SELECT name, description, created_at FROM images WHERE image_id = ?", rs -> new Row(rs.getString(1), rs.getString(2),
                rs.getLong(3)), imageId).orElseThrow(() -> new NotFound(ResourceKind.IMAGE, imageId));
        List<String> ids = tx.query("SELECT snapshot_id FROM image_snapshots WHERE image_id = ? ORDER BY position", rs -> rs.getString(1), imageId);
        List<Snapshot> snaps = new ArrayList<>();
        boolean missing = false;
        for (String id : ids) {
            Optional<Snapshot> s = SnapshotService.snapshotById(tx, id);
            if (s.isPresent()) snaps.add(s.get()); else missing = true;
        }
        String state = missing ? "CREATEFAILED" : snaps.stream().anyMatch(s -> s.state() == SnapshotState.CREATING) ? "CREATING" : "NORMAL";
        long size = snaps.isEmpty() ? 0 : snaps.getFirst().diskSizeGib();
        Image image = new Image(imageId, row.name(), "PRIVATE_IMAGE", "Custom (from " + (ids.isEmpty() ? "nothing" : ids.getFirst()) + ")", "Other",
                "x86_64", size, state, "CREATE_IMAGE", "", row.description(), Instant.ofEpochMilli(row.createdAt()));
        return new Plan(image, snaps);
    }

    /** DeleteImages: the caller's images, all or nothing; with {@code deleteBindSnapshot} their snapshots too (those no other image uses). */
    public void delete(Caller caller, List<String> imageIds, boolean deleteBindSnapshot) {
        control.recorded(caller, "DeleteImages", () -> {
            CloudControl.requireIds(imageIds, "ImageIds", control.limits().idsPerDescribe());
            List<String> snapshots = catalog.write(tx -> {
                for (String id : imageIds) {
                    owned(tx, caller, id);
                    if (tx.count("SELECT COUNT(*) FROM image_shares WHERE image_id = ?", id) > 0) {
                        throw new ControlException.ImageConflict(ControlException.ImageConflict.Problem.IN_SHARE, "image `" + id
                                + "` is shared; stop sharing it first (ModifyImageSharePermission CANCEL)");
                    }
                }
                List<String> used = new ArrayList<>();
                for (String id : imageIds) used.addAll(tx.query("SELECT snapshot_id FROM image_snapshots WHERE image_id = ?", rs -> rs.getString(1), id));
                for (String id : imageIds) tx.update("DELETE FROM images WHERE image_id = ?", id);
                Rows.recordOps(tx, caller, "DeleteImages", imageIds, "SUCCESS", clock.millis(), deleteBindSnapshot ? "with snapshots" : "");
                List<String> free = new ArrayList<>();
                for (String s : used) {
                    if (tx.count("SELECT COUNT(*) FROM image_snapshots WHERE snapshot_id = ?", s) == 0
                            && SnapshotService.snapshotById(tx, s).isPresent()) free.add(s);
                }
                return free;
            });
            if (deleteBindSnapshot && !snapshots.isEmpty()) control.snapshots().deleteSnapshots(caller, snapshots);
            return null;
        });
    }

    /** For each of the caller's snapshots an image uses: those images (DescribeSnapshots' Images). */
    public Map<String, List<Image>> bySnapshot(Caller caller) {
        return catalog.read(tx -> {
            Map<String, List<Image>> out = new LinkedHashMap<>();
            for (String[] r : tx.query("SELECT s.snapshot_id, i.image_id FROM image_snapshots s JOIN images i ON i.image_id = s.image_id "
                    + "WHERE i.account_id = ?", rs -> new String[] {rs.getString(1), rs.getString(2)}, caller.accountId())) {
                out.computeIfAbsent(r[0], k -> new ArrayList<>()).add(plan(tx, r[1]).image());
            }
            return out;
        });
    }

    /** Refuses, in the caller's transaction, to delete a snapshot an image uses (Tencent's SnapshotHasBindedImage). */
    static void requireNoImage(Catalog.Tx tx, String snapshotId) throws SQLException {
        List<String> images = tx.query("SELECT image_id FROM image_snapshots WHERE snapshot_id = ?", rs -> rs.getString(1), snapshotId);
        if (!images.isEmpty()) {
            throw new SnapshotConflict(snapshotId, SnapshotConflict.Problem.HAS_IMAGE, "snapshot `" + snapshotId + "` is used by image(s) " + images
                    + "; delete them first, or pass DeleteBindImages");
        }
    }
}
