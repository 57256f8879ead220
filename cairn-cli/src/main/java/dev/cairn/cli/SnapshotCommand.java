package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cairn snapshot create|list|show|rollback|clone|delete} over CreateSnapshot, DescribeSnapshots, … */
@Command(name = "snapshot", description = "Snapshots of disks: create, list, show, rollback, clone, delete, overview, share, lock, bin, recover, copy.",
        subcommands = {SnapshotCommand.Create.class, SnapshotCommand.ListSnapshots.class, SnapshotCommand.Show.class,
                SnapshotCommand.Rollback.class, SnapshotCommand.Clone.class, SnapshotCommand.Delete.class,
                SnapshotCommand.Overview.class, SnapshotCommand.Share.class, SnapshotCommand.Shares.class,
                SnapshotCommand.Lock.class, SnapshotCommand.Bin.class, SnapshotCommand.Recover.class, SnapshotCommand.Copy.class,
                SnapshotCommand.Copies.class})
final class SnapshotCommand {
    static final List<Output.Column> COLUMNS = List.of(
            new Output.Column("SNAPSHOT", "SnapshotId"), new Output.Column("NAME", "SnapshotName"),
            new Output.Column("DISK", "DiskId"), new Output.Column("SIZE_GB", "DiskSize"),
            new Output.Column("STATE", "SnapshotState"), new Output.Column("PERCENT", "Percent"),
            new Output.Column("CREATED", "CreateTime"), new Output.Column("ADDED_BYTES", "IncrementalBytes"));

    static final Duration WAIT = Duration.ofHours(12);

    @Command(name = "create", description = "Snapshot a disk (while it is in use); prints the snapshot id.")
    static final class Create extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID") String disk;
        @Option(names = "--name", description = "Snapshot name.") String name;
        @Option(names = "--wait", description = "Wait until the snapshot is NORMAL, showing progress on stderr.") boolean wait;
        @Option(names = "--pre-hook", paramLabel = "COMMAND",
                description = "Run this (sh -c) just before the snapshot, e.g. a guest agent's fs-freeze; if it fails, no snapshot is taken.")
        String preHook;
        @Option(names = "--post-hook", paramLabel = "COMMAND",
                description = "Run this (sh -c) once the snapshot's barrier is in place, e.g. fs-thaw; runs whenever the pre-hook ran.")
        String postHook;
        @Option(names = "--hook-timeout", paramLabel = "DURATION", defaultValue = "30s",
                description = "Kill a hook that runs longer than this (default: ${DEFAULT-VALUE}).") String hookTimeout;

        @Override
        public Integer call() throws Exception {
            Duration timeout = ClockCommand.parse(hookTimeout);
            ObjectNode p = params().put("DiskId", disk);
            if (name != null) p.put("SnapshotName", name);
            ObjectNode r;
            try {
                if (preHook != null) Hooks.run("pre-hook", preHook, disk, timeout); // failed: no snapshot, but thaw
                r = api().call("CreateSnapshot", p); // returns once the barrier is in place
            } finally {
                if (postHook != null) Hooks.run("post-hook", postHook, disk, timeout);
            }
            String id = r.path("SnapshotId").asText();
            if (wait) waitNormal(id);
            if (global().output == Output.Format.json) out().object(wait ? snapshot(id) : r); else System.out.println(id);
            return 0;
        }
    }

    @Command(name = "list", description = "List snapshots.")
    static final class ListSnapshots extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID", arity = "0..*", description = "Only these snapshots.") List<String> ids;
        @Option(names = "--disk", description = "Only snapshots of this disk.") String disk;
        @Option(names = "--limit", defaultValue = "100", description = "At most this many (max 100).") int limit;
        @Option(names = "--offset", defaultValue = "0") int offset;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("Limit", limit).put("Offset", offset);
            if (ids != null && !ids.isEmpty()) p.set("SnapshotIds", array(ids));
            if (disk != null) p.putArray("Filters").addObject().put("Name", "disk-id").putArray("Values").add(disk);
            ObjectNode r = api().call("DescribeSnapshots", p);
            out().rows(r, r.path("SnapshotSet"), COLUMNS);
            return 0;
        }
    }

    @Command(name = "show", description = "One snapshot in detail, with its space: logical, added when taken, and what deleting it would free now.")
    static final class Show extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID") String id;

        @Override
        public Integer call() throws Exception {
            ObjectNode s = (ObjectNode) snapshot(id).deepCopy();
            ObjectNode p = params();
            p.set("SnapshotIds", array(List.of(id)));
            JsonNode space = api().call("DescribeSnapshotSpace", p).path("SnapshotSpaceSet").path(0);
            s.put("ExclusiveBytes", space.path("ExclusiveBytes").asLong());
            out().object(s);
            return 0;
        }
    }

    @Command(name = "rollback", description = "Roll a disk back to one of its snapshots (the disk is usable again at once).")
    static final class Rollback extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID") String id;
        @Option(names = "--disk", description = "The snapshot's disk (default: looked up).") String disk;
        @Option(names = "--auto-stop", description = "Stop the disk's instance first if it is running.") boolean autoStop;
        @Option(names = "--auto-start", description = "Start the instance again afterwards (with --auto-stop).") boolean autoStart;
        @Option(names = "--wait", description = "Wait until the disk is back in service.") boolean wait;

        @Override
        public Integer call() throws Exception {
            String target = disk != null ? disk : snapshot(id).path("DiskId").asText();
            api().call("ApplySnapshot", params().put("SnapshotId", id).put("DiskId", target)
                    .put("AutoStopInstance", autoStop).put("AutoStartInstance", autoStart));
            if (wait) {
                waitFor("the rollback", WAIT, () -> disks(List.of(target)), d -> !d.path("DiskState").asText().equals("ROLLBACKING"));
            }
            return 0;
        }
    }

    @Command(name = "clone", description = "Create new disks from a snapshot (usable at once); prints their ids.")
    static final class Clone extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID") String id;
        @Option(names = "--size", paramLabel = "GB", description = "Size in GiB (default: the snapshot's).") Integer size;
        @Option(names = "--name", description = "Disk name.") String name;
        @Option(names = "--zone", description = "Availability zone (default: the snapshot's).") String zone;
        @Option(names = "--type", defaultValue = "CLOUD_PREMIUM", description = "Disk type (default: ${DEFAULT-VALUE}).") String type;
        @Option(names = "--count", defaultValue = "1", description = "How many disks.") int count;
        @Option(names = "--wait", description = "Wait until the disks are ready.") boolean wait;

        @Override
        public Integer call() throws Exception {
            String z = zone != null ? zone : snapshot(id).path("Placement").path("Zone").asText();
            ObjectNode p = params();
            p.putObject("Placement").put("Zone", z);
            p.put("DiskChargeType", "POSTPAID_BY_HOUR").put("DiskType", type).put("DiskCount", count).put("SnapshotId", id);
            if (size != null) p.put("DiskSize", size);
            if (name != null) p.put("DiskName", name);
            ObjectNode r = api().call("CreateDisks", p);
            List<String> ids = strings(r.path("DiskIdSet"));
            if (wait) waitFor("disks to be created", DiskCommand.WAIT, () -> disks(ids), d -> d.path("DiskState").asText().equals("UNATTACHED"));
            if (global().output == Output.Format.json) out().object(r); else ids.forEach(System.out::println);
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete snapshots (their space is freed by the next 'cairn repo gc').")
    static final class Delete extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID", arity = "1..*") List<String> ids;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("SnapshotIds", array(ids));
            api().call("DeleteSnapshots", p);
            return 0;
        }
    }

    @Command(name = "overview", description = "The account's snapshots: how many, and the GiB they store (shared data counted once).")
    static final class Overview extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            out().object(api().call("DescribeSnapshotOverview", params()));
            return 0;
        }
    }

    private SnapshotCommand() {}

    /** Why a snapshot's capture failed, from its operation log (Cairn's {@code Detail}). */
    private static String failure(ClientCommand c, String id) {
        try {
            ObjectNode p = ClientCommand.params();
            p.putArray("Filters").addObject().put("Name", "snapshot-id").putArray("Values").add(id);
            String why = null;
            for (JsonNode e : c.api().call("DescribeSnapshotOperationLogs", p).path("SnapshotOperationLogSet")) {
                if (e.path("OperationState").asText().equals("FAILED") && e.hasNonNull("Detail")) why = e.path("Detail").asText();
            }
            if (why != null) return why;
        } catch (IOException | ApiClient.ApiException e) {
            // fall through: the log is a courtesy
        }
        return "see the disk's operation log and the server log";
    }

    /** Waits until the snapshot is NORMAL (or gone: its capture failed), drawing a progress bar on stderr. */
    static void waitNormal(ClientCommand c, String id) throws Exception {
        Progress bar = new Progress(System.err, System.console() != null);
        long deadline = System.nanoTime() + WAIT.toNanos();
        ClientCommand.PollInterval poll = new ClientCommand.PollInterval();
        while (true) {
            JsonNode set = c.describeSnapshots(id);
            if (set.isEmpty()) {
                bar.end();
                throw new IOException("snapshot " + id + " failed: " + failure(c, id));
            }
            JsonNode s = set.get(0);
            int percent = s.path("Percent").asInt();
            bar.show(percent, s.path("BytesRead").asLong());
            if (s.path("SnapshotState").asText().equals("NORMAL")) {
                bar.end();
                return;
            }
            if (System.nanoTime() > deadline) throw new IOException("timed out waiting for snapshot " + id);
            poll.sleep(percent);
        }
    }

    @Command(name = "share", description = "Share snapshots with other accounts (they may create disks from them), or --cancel.")
    static final class Share extends ClientCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "SNAPSHOT_ID") String id;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "ACCOUNT_ID") List<String> accounts;
        @Option(names = "--cancel", description = "Stop sharing (disks already made from it keep working).") boolean cancel;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("Permission", cancel ? "CANCEL" : "SHARE");
            p.set("SnapshotIds", array(List.of(id)));
            p.set("AccountIds", array(accounts));
            api().call("ModifySnapshotsSharePermission", p);
            return 0;
        }
    }

    @Command(name = "shares", description = "The accounts a snapshot is shared with.")
    static final class Shares extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID") String id;

        @Override
        public Integer call() throws Exception {
            ObjectNode r = api().call("DescribeSnapshotSharePermission", params().put("SnapshotId", id));
            out().rows(r, r.path("SharePermissionSet"), SHARE_COLUMNS);
            return 0;
        }
    }

    @Command(name = "lock", description = "Protect snapshots from deletion until a date (by anyone, the admin too); a lock can be extended, never shortened.")
    static final class Lock extends ClientCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "SNAPSHOT_ID") List<String> ids;
        @Option(names = "--until", paramLabel = "TIME", description = "ISO-8601, e.g. 2027-06-30T00:00:00+08:00.") String until;
        @Option(names = "--for", paramLabel = "DURATION", description = "From now (service clock), e.g. 30d or P90D.") String duration;

        @Override
        public Integer call() throws Exception {
            if ((until == null) == (duration == null)) throw new IllegalArgumentException("give --until TIME or --for DURATION");
            ObjectNode p = until != null ? params().put("LockedUntil", until)
                    : params().put("LockDuration", ClockCommand.parse(duration).toString()); // from the server's now
            p.set("SnapshotIds", array(ids));
            api().call("ModifySnapshotLock", p);
            return 0;
        }
    }

    @Command(name = "bin", description = "Deleted snapshots still recoverable (a server started with --snapshot-recycle-days).")
    static final class Bin extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            ObjectNode r = api().call("DescribeRecycledSnapshots", params());
            out().rows(r, r.path("SnapshotSet"), List.of(new Output.Column("SNAPSHOT", "Snapshot.SnapshotId"),
                    new Output.Column("NAME", "Snapshot.SnapshotName"), new Output.Column("DISK", "Snapshot.DiskId"),
                    new Output.Column("DELETED", "RecycledTime"), new Output.Column("PURGED_AT", "PurgeTime")));
            return 0;
        }
    }

    @Command(name = "recover", description = "Bring snapshots back from the recycle bin.")
    static final class Recover extends ClientCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "SNAPSHOT_ID") List<String> ids;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("SnapshotIds", array(ids));
            api().call("RecoverSnapshots", p);
            return 0;
        }
    }

    static final List<Output.Column> COPY_COLUMNS = List.of(new Output.Column("COPY", "CopySnapshotId"),
            new Output.Column("SNAPSHOT", "SnapshotId"), new Output.Column("REGION", "DestinationRegion"), new Output.Column("STATE", "State"),
            new Output.Column("PERCENT", "Percent"), new Output.Column("SENT_BYTES", "BytesSent"), new Output.Column("ERROR", "Error"));

    @Command(name = "copy", description = "Copy a snapshot to other regions (their Cairns, given to serve with --peer-region); prints the copies' ids. "
            + "Only the chunks a region lacks travel; the copy is verified there before it is NORMAL.")
    static final class Copy extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "SNAPSHOT_ID") String id;
        @Option(names = "--to", required = true, split = ",", paramLabel = "REGION", description = "Destination region(s).") List<String> regions;
        @Option(names = "--name", description = "Name of the copies (default: Copied SNAPSHOT_ID from REGION).") String name;
        @Option(names = "--wait", description = "Wait until every copy is done, showing progress on stderr.") boolean wait;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("SnapshotId", id);
            p.set("DestinationRegions", array(regions));
            if (name != null) p.put("SnapshotName", name);
            ObjectNode r = api().call("CopySnapshotCrossRegions", p);
            int failed = 0;
            for (JsonNode c : r.path("SnapshotCopyResultSet")) {
                if (!c.path("Code").asText().equals("Success")) {
                    System.err.println(c.path("DestinationRegion").asText() + ": " + c.path("Code").asText() + ": " + c.path("Message").asText());
                    failed++;
                } else if (wait) {
                    waitCopied(c.path("SnapshotId").asText());
                }
            }
            if (global().output == Output.Format.json) out().object(r);
            else for (JsonNode c : r.path("SnapshotCopyResultSet")) if (c.path("Code").asText().equals("Success")) System.out.println(c.path("SnapshotId").asText());
            return failed == 0 ? 0 : 1;
        }

        private void waitCopied(String copyId) throws Exception {
            Progress bar = new Progress(System.err, System.console() != null);
            long deadline = System.nanoTime() + WAIT.toNanos();
            PollInterval poll = new PollInterval();
            while (true) {
                JsonNode c = null;
                for (JsonNode n : api().call("DescribeSnapshotCopies", params().put("SnapshotId", id)).path("CopySet")) {
                    if (n.path("CopySnapshotId").asText().equals(copyId)) c = n;
                }
                if (c == null) throw new IOException("copy " + copyId + " is not known here");
                bar.show(c.path("Percent").asInt(), c.path("BytesSent").asLong());
                switch (c.path("State").asText()) {
                    case "DONE" -> { bar.end(); return; }
                    case "FAILED" -> { bar.end(); throw new IOException("copy " + copyId + " failed: " + c.path("Error").asText()); }
                    default -> { }
                }
                if (System.nanoTime() > deadline) throw new IOException("timed out waiting for copy " + copyId);
                poll.sleep(c.path("Percent").asInt());
            }
        }
    }

    @Command(name = "copies", description = "Cross-region copies sent from this region (of one snapshot, if given), with progress.")
    static final class Copies extends ClientCommand implements Callable<Integer> {
        @Parameters(arity = "0..1", paramLabel = "SNAPSHOT_ID") String id;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            if (id != null) p.put("SnapshotId", id);
            ObjectNode r = api().call("DescribeSnapshotCopies", p);
            out().rows(r, r.path("CopySet"), COPY_COLUMNS);
            return 0;
        }
    }

    /** Percent, MiB/s and ETA on one line (redrawn on a terminal; a line per 10 % otherwise). */
    static final class Progress {
        private final PrintStream err;
        private final boolean terminal;
        private final java.util.function.LongSupplier nanoTime;
        private final long started;
        private int lastPrinted = -1;

        Progress(PrintStream err, boolean terminal) {
            this(err, terminal, System::nanoTime);
        }

        Progress(PrintStream err, boolean terminal, java.util.function.LongSupplier nanoTime) {
            this.err = err;
            this.terminal = terminal;
            this.nanoTime = nanoTime;
            this.started = nanoTime.getAsLong();
        }

        void show(int percent, long bytes) {
            double seconds = Math.max(1e-3, (nanoTime.getAsLong() - started) / 1e9);
            double mibs = bytes / seconds / (1 << 20);
            String eta = percent <= 0 || percent >= 100 ? "-" : formatSeconds((long) (seconds * (100 - percent) / percent));
            int filled = percent / 5;
            String line = String.format("[%s%s] %3d%%  %7.1f MiB/s  ETA %s", "#".repeat(filled), ".".repeat(20 - filled), percent, mibs, eta);
            if (terminal) {
                err.print("\r" + line);
            } else if (percent / 10 != lastPrinted / 10 || lastPrinted < 0) {
                err.println(line);
            }
            lastPrinted = percent;
        }

        void end() {
            if (terminal && lastPrinted >= 0) err.println();
        }

        static String formatSeconds(long s) {
            return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
        }
    }
}
