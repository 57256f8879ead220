package dev.cairn.control;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The SQL for instances, disks and operation records, and the row mappers. Every method runs inside a
 * caller's transaction; none commits. Package-private: the facade is the only user.
 */
final class Rows {
    private Rows() {}

    static final String DISK_COLUMNS = "disk_id, account_id, name, zone, project_id, disk_type, disk_usage, charge_type, "
            + "size_gib, state, instance_id, portable, delete_with_instance, delete_snapshot, created_at";
    static final String INSTANCE_COLUMNS = "instance_id, account_id, name, zone, project_id, instance_type, image_id, state, "
            + "uuid, created_at, latest_operation, latest_operation_state, latest_operation_request_id";

    static Disk disk(ResultSet rs) throws SQLException {
        return new Disk(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getLong(5),
                DiskType.valueOf(rs.getString(6)), DiskUsage.valueOf(rs.getString(7)), rs.getString(8), rs.getLong(9),
                DiskState.valueOf(rs.getString(10)), rs.getString(11), rs.getBoolean(12), rs.getBoolean(13), rs.getLong(14),
                Instant.ofEpochMilli(rs.getLong(15)));
    }

    static Instance instance(ResultSet rs) throws SQLException {
        return new Instance(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getLong(5), rs.getString(6),
                rs.getString(7), InstanceState.valueOf(rs.getString(8)), rs.getString(9), Instant.ofEpochMilli(rs.getLong(10)),
                rs.getString(11), rs.getString(12), rs.getString(13), List.of());
    }

    static void insertDisk(Catalog.Tx tx, Disk d) throws SQLException {
        tx.update("INSERT INTO disks (" + DISK_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                d.diskId(), d.accountId(), d.name(), d.zone(), d.projectId(), d.diskType(), d.diskUsage(), d.chargeType(),
                d.sizeGib(), d.state(), d.instanceId(), d.portable(), d.deleteWithInstance(), d.deleteSnapshot(),
                d.createdAt().toEpochMilli());
    }

    static void insertInstance(Catalog.Tx tx, Instance i) throws SQLException {
        tx.update("INSERT INTO instances (" + INSTANCE_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                i.instanceId(), i.accountId(), i.name(), i.zone(), i.projectId(), i.instanceType(), i.imageId(), i.state(),
                i.uuid(), i.createdAt().toEpochMilli(), i.latestOperation(), i.latestOperationState(),
                i.latestOperationRequestId());
    }

    /** The caller's disk, or NotFound (also for another account's disk). Terminated disks are gone. */
    static Disk ownDisk(Catalog.Tx tx, long accountId, String diskId) throws SQLException {
        return tx.first("SELECT " + DISK_COLUMNS + " FROM disks WHERE disk_id = ? AND account_id = ? AND state <> ?",
                        Rows::disk, diskId, accountId, DiskState.TORECYCLE)
                .orElseThrow(() -> new ControlException.NotFound(ControlException.ResourceKind.DISK, diskId));
    }

    static Instance ownInstance(Catalog.Tx tx, long accountId, String instanceId) throws SQLException {
        return tx.first("SELECT " + INSTANCE_COLUMNS + " FROM instances WHERE instance_id = ? AND account_id = ?",
                        Rows::instance, instanceId, accountId)
                .orElseThrow(() -> new ControlException.NotFound(ControlException.ResourceKind.INSTANCE, instanceId));
    }

    static Optional<Disk> diskById(Catalog.Tx tx, String diskId) throws SQLException {
        return tx.first("SELECT " + DISK_COLUMNS + " FROM disks WHERE disk_id = ?", Rows::disk, diskId);
    }

    static Optional<Instance> instanceById(Catalog.Tx tx, String instanceId) throws SQLException {
        return tx.first("SELECT " + INSTANCE_COLUMNS + " FROM instances WHERE instance_id = ?", Rows::instance, instanceId);
    }

    static List<Disk> disksOfInstance(Catalog.Tx tx, String instanceId) throws SQLException {
        return tx.query("SELECT " + DISK_COLUMNS + " FROM disks WHERE instance_id = ? ORDER BY disk_usage DESC, created_at, disk_id",
                Rows::disk, instanceId);
    }

    static long dataDisksOn(Catalog.Tx tx, String instanceId) throws SQLException {
        return tx.count("SELECT COUNT(*) FROM disks WHERE instance_id = ? AND disk_usage = ?", instanceId, DiskUsage.DATA_DISK);
    }

    /** The account's instances, each with its disks (system disk first). */
    static List<Instance> instancesOf(Catalog.Tx tx, long accountId) throws SQLException {
        Map<String, Instance> byId = new LinkedHashMap<>();
        for (Instance i : tx.query("SELECT " + INSTANCE_COLUMNS + " FROM instances WHERE account_id = ?", Rows::instance, accountId)) {
            byId.put(i.instanceId(), i);
        }
        Map<String, List<Disk>> disks = new LinkedHashMap<>();
        for (Disk d : tx.query("SELECT " + DISK_COLUMNS + " FROM disks WHERE account_id = ? AND instance_id IS NOT NULL "
                + "ORDER BY disk_usage DESC, created_at, disk_id", Rows::disk, accountId)) {
            disks.computeIfAbsent(d.instanceId(), k -> new ArrayList<>()).add(d);
        }
        List<Instance> out = new ArrayList<>(byId.size());
        for (Instance i : byId.values()) out.add(i.withDisks(disks.getOrDefault(i.instanceId(), List.of())));
        return out;
    }

    static List<Disk> disksOf(Catalog.Tx tx, long accountId) throws SQLException {
        return tx.query("SELECT " + DISK_COLUMNS + " FROM disks WHERE account_id = ? AND state <> ?", Rows::disk,
                accountId, DiskState.TORECYCLE);
    }

    static void setDiskState(Catalog.Tx tx, String diskId, DiskState state, String instanceId) throws SQLException {
        tx.update("UPDATE disks SET state = ?, instance_id = ? WHERE disk_id = ?", state, instanceId, diskId);
    }

    static void setInstanceState(Catalog.Tx tx, String instanceId, InstanceState state, String operation, String opState,
                                 String requestId) throws SQLException {
        tx.update("UPDATE instances SET state = ?, latest_operation = ?, latest_operation_state = ?, "
                + "latest_operation_request_id = ? WHERE instance_id = ?", state, operation, opState, requestId, instanceId);
    }

    // ---- operation records ----

    /** Records that {@code caller} did {@code action} to each resource; PROCESSING ones are finished later. */
    static void recordOps(Catalog.Tx tx, Caller caller, String action, Collection<String> resourceIds, String state,
                          long now, String detail) throws SQLException {
        for (String id : resourceIds) {
            tx.update("INSERT INTO operations (operation_id, account_id, action, resource_id, request_id, state, started_at, "
                            + "finished_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    UUID.randomUUID().toString(), caller.accountId(), action, id, caller.requestId(), state, now,
                    "PROCESSING".equals(state) ? null : now, truncate(detail));
        }
    }

    static void finishOps(Catalog.Tx tx, String action, String resourceId, String state, long now, String detail)
            throws SQLException {
        if (detail == null) {
            tx.update("UPDATE operations SET state = ?, finished_at = ? WHERE resource_id = ? AND action = ? AND state = ?",
                    state, now, resourceId, action, "PROCESSING");
        } else {
            tx.update("UPDATE operations SET state = ?, finished_at = ?, detail = ? WHERE resource_id = ? AND action = ? "
                    + "AND state = ?", state, now, truncate(detail), resourceId, action, "PROCESSING");
        }
    }

    static OperationRecord operation(ResultSet rs) throws SQLException {
        long finished = rs.getLong(8);
        boolean open = rs.wasNull();
        return new OperationRecord(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                Instant.ofEpochMilli(rs.getLong(6)), open ? null : Instant.ofEpochMilli(finished), rs.getString(7));
    }

    static String truncate(String s) {
        if (s == null) return "";
        return s.length() <= 500 ? s : s.substring(0, 500);
    }
}
