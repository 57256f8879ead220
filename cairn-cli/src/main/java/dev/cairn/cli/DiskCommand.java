package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cairn disk create|list|attach|detach|resize|rename|delete} over CreateDisks, DescribeDisks, … */
@Command(name = "disk", description = "Cloud disks: create, list, attach, detach, resize, rename, delete.",
        subcommands = {DiskCommand.Create.class, DiskCommand.ListDisks.class, DiskCommand.Attach.class,
                DiskCommand.Detach.class, DiskCommand.Resize.class, DiskCommand.Rename.class, DiskCommand.Delete.class})
final class DiskCommand {
    static final List<Output.Column> COLUMNS = List.of(
            new Output.Column("DISK", "DiskId"), new Output.Column("NAME", "DiskName"),
            new Output.Column("SIZE_GB", "DiskSize"), new Output.Column("TYPE", "DiskType"),
            new Output.Column("USAGE", "DiskUsage"), new Output.Column("STATE", "DiskState"),
            new Output.Column("INSTANCE", "InstanceId"), new Output.Column("ZONE", "Placement.Zone"),
            new Output.Column("FLATTEN%", "FlattenPercent"));

    static final Duration WAIT = Duration.ofMinutes(5);

    @Command(name = "create", description = "Create data disks; prints their ids.")
    static final class Create extends ClientCommand implements Callable<Integer> {
        @Option(names = "--size", required = true, paramLabel = "GB", description = "Size in GiB.") int size;
        @Option(names = "--name", description = "Disk name.") String name;
        @Option(names = "--zone", description = "Availability zone (default: the region's first zone).") String zone;
        @Option(names = "--type", defaultValue = "CLOUD_PREMIUM", description = "Disk type (default: ${DEFAULT-VALUE}).") String type;
        @Option(names = "--count", defaultValue = "1", description = "How many disks.") int count;
        @Option(names = "--instance", paramLabel = "INSTANCE_ID", description = "Attach to this instance once created.") String instance;
        @Option(names = "--wait", description = "Wait until the disks are ready.") boolean wait;

        static final int ATTACH_BATCH = 10;

        @Override
        public Integer call() throws Exception {
            String z = zone != null ? zone : firstZone();
            ObjectNode p = params();
            p.putObject("Placement").put("Zone", z);
            p.put("DiskChargeType", "POSTPAID_BY_HOUR").put("DiskType", type).put("DiskSize", size).put("DiskCount", count);
            if (name != null) p.put("DiskName", name);
            ObjectNode r = api().call("CreateDisks", p);
            List<String> ids = strings(r.path("DiskIdSet"));
            if (wait || instance != null) {
                waitFor("disks to be created", WAIT, () -> disks(ids), d -> d.path("DiskState").asText().equals("UNATTACHED"));
            }
            if (instance != null) {
                for (int from = 0; from < ids.size(); from += ATTACH_BATCH) { // AttachDisks takes 10 disks per call
                    ObjectNode a = params().put("InstanceId", instance);
                    a.set("DiskIds", array(ids.subList(from, Math.min(ids.size(), from + ATTACH_BATCH))));
                    api().call("AttachDisks", a);
                }
                if (wait) waitFor("disks to attach", WAIT, () -> disks(ids), d -> d.path("DiskState").asText().equals("ATTACHED"));
            }
            if (global().output == Output.Format.json) out().object(r); else ids.forEach(System.out::println);
            return 0;
        }
    }

    @Command(name = "list", description = "List disks.")
    static final class ListDisks extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID", arity = "0..*", description = "Only these disks.") List<String> ids;
        @Option(names = "--instance", description = "Only disks attached to this instance.") String instance;
        @Option(names = "--limit", defaultValue = "100", description = "At most this many (max 100).") int limit;
        @Option(names = "--offset", defaultValue = "0") int offset;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("Limit", limit).put("Offset", offset);
            if (ids != null && !ids.isEmpty()) p.set("DiskIds", array(ids));
            if (instance != null) {
                ObjectNode f = p.putArray("Filters").addObject().put("Name", "instance-id");
                f.putArray("Values").add(instance);
            }
            ObjectNode r = api().call("DescribeDisks", p);
            out().rows(r, r.path("DiskSet"), COLUMNS);
            return 0;
        }
    }

    @Command(name = "attach", description = "Attach disks to an instance; they are then served over NBD.")
    static final class Attach extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID", arity = "1..*") List<String> ids;
        @Option(names = "--instance", required = true, paramLabel = "INSTANCE_ID") String instance;
        @Option(names = "--wait", description = "Wait until attached.") boolean wait;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("InstanceId", instance);
            p.set("DiskIds", array(ids));
            api().call("AttachDisks", p);
            if (wait) waitFor("disks to attach", WAIT, () -> disks(ids), d -> d.path("DiskState").asText().equals("ATTACHED"));
            return 0;
        }
    }

    @Command(name = "detach", description = "Detach disks from their instance.")
    static final class Detach extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID", arity = "1..*") List<String> ids;
        @Option(names = "--wait", description = "Wait until detached.") boolean wait;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("DiskIds", array(ids));
            api().call("DetachDisks", p);
            if (wait) waitFor("disks to detach", WAIT, () -> disks(ids), d -> d.path("DiskState").asText().equals("UNATTACHED"));
            return 0;
        }
    }

    @Command(name = "resize", description = "Grow a disk (online; NBD clients see the new size when they reconnect).")
    static final class Resize extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID") String id;
        @Option(names = "--size", required = true, paramLabel = "GB", description = "New size in GiB.") int size;
        @Option(names = "--wait", description = "Wait until done.") boolean wait;

        @Override
        public Integer call() throws Exception {
            api().call("ResizeDisk", params().put("DiskId", id).put("DiskSize", size));
            if (wait) waitFor("the disk to grow", WAIT, () -> disks(List.of(id)),
                    d -> d.path("DiskSize").asInt() == size && !d.path("DiskState").asText().equals("EXPANDING"));
            return 0;
        }
    }

    @Command(name = "rename", description = "Rename disks.")
    static final class Rename extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID", arity = "1..*") List<String> ids;
        @Option(names = "--name", required = true) String name;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("DiskName", name);
            p.set("DiskIds", array(ids));
            api().call("ModifyDiskAttributes", p);
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete (terminate) unattached disks and their data.")
    static final class Delete extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "DISK_ID", arity = "1..*") List<String> ids;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("DiskIds", array(ids));
            api().call("TerminateDisks", p);
            return 0;
        }
    }

    private DiskCommand() {}
}
