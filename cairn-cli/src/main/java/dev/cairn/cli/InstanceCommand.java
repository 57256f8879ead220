package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cairn instance create|list|start|stop|reboot|delete} over the CVM instance actions. */
@Command(name = "instance", description = "Instances (attachment targets for disks): create, list, start, stop, reboot, delete.",
        subcommands = {InstanceCommand.Create.class, InstanceCommand.ListInstances.class, InstanceCommand.Start.class,
                InstanceCommand.Stop.class, InstanceCommand.Reboot.class, InstanceCommand.Delete.class})
final class InstanceCommand {
    static final List<Output.Column> COLUMNS = List.of(
            new Output.Column("INSTANCE", "InstanceId"), new Output.Column("NAME", "InstanceName"),
            new Output.Column("STATE", "InstanceState"), new Output.Column("ZONE", "Placement.Zone"),
            new Output.Column("IMAGE", "ImageId"), new Output.Column("SYSTEM_DISK", "SystemDisk.DiskId"),
            new Output.Column("DATA_DISKS", "DataDisks.DiskId"));
    static final Duration WAIT = Duration.ofMinutes(5);

    @Command(name = "create", description = "Create (run) instances, each with a system disk; prints their ids.")
    static final class Create extends ClientCommand implements Callable<Integer> {
        @Option(names = "--name", description = "Instance name.") String name;
        @Option(names = "--zone", description = "Availability zone (default: the region's first zone).") String zone;
        @Option(names = "--image", description = "Image id (default: the first public image).") String image;
        @Option(names = "--count", defaultValue = "1", description = "How many instances.") int count;
        @Option(names = "--system-disk-size", defaultValue = "50", paramLabel = "GB") int systemDiskSize;
        @Option(names = "--data-disk-size", paramLabel = "GB", description = "Add a data disk of this size (repeatable).") List<Integer> dataDisks;
        @Option(names = "--wait", description = "Wait until the instances run.") boolean wait;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("InstanceCount", count).put("InstanceChargeType", "POSTPAID_BY_HOUR");
            p.putObject("Placement").put("Zone", zone != null ? zone : firstZone());
            p.put("ImageId", image != null ? image : firstPublicImage());
            p.putObject("SystemDisk").put("DiskType", "CLOUD_PREMIUM").put("DiskSize", systemDiskSize);
            if (dataDisks != null) {
                ArrayNode dd = p.putArray("DataDisks");
                dataDisks.forEach(gb -> dd.addObject().put("DiskType", "CLOUD_PREMIUM").put("DiskSize", gb));
            }
            if (name != null) p.put("InstanceName", name);
            ObjectNode r = api().call("RunInstances", p);
            List<String> ids = strings(r.path("InstanceIdSet"));
            if (wait) waitFor("instances to run", WAIT, () -> instances(ids), i -> i.path("InstanceState").asText().equals("RUNNING"));
            if (global().output == Output.Format.json) out().object(r); else ids.forEach(System.out::println);
            return 0;
        }

        private String firstPublicImage() throws Exception {
            ObjectNode p = params();
            ObjectNode f = p.putArray("Filters").addObject().put("Name", "image-type");
            f.putArray("Values").add("PUBLIC_IMAGE");
            JsonNode images = api().call("DescribeImages", p).path("ImageSet");
            if (images.isEmpty()) throw new IllegalStateException("no public image; pass --image");
            return images.get(0).path("ImageId").asText();
        }
    }

    @Command(name = "list", description = "List instances.")
    static final class ListInstances extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "INSTANCE_ID", arity = "0..*") List<String> ids;
        @Option(names = "--limit", defaultValue = "100") int limit;
        @Option(names = "--offset", defaultValue = "0") int offset;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("Limit", limit).put("Offset", offset);
            if (ids != null && !ids.isEmpty()) p.set("InstanceIds", array(ids));
            ObjectNode r = api().call("DescribeInstances", p);
            out().rows(r, r.path("InstanceSet"), COLUMNS);
            return 0;
        }
    }

    /** Start/stop/reboot/delete: one action over a list of ids, optionally waiting for a final state. */
    abstract static class StateChange extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "INSTANCE_ID", arity = "1..*") List<String> ids;
        @Option(names = "--wait", description = "Wait until the change is done.") boolean wait;

        abstract String action();
        abstract String finalState();

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("InstanceIds", array(ids));
            api().call(action(), p);
            if (wait) {
                waitFor("instances to reach " + finalState(), WAIT, () -> instances(ids),
                        i -> i.path("InstanceState").asText().equals(finalState()));
            }
            return 0;
        }
    }

    @Command(name = "start", description = "Start stopped instances; their disks are served over NBD again.")
    static final class Start extends StateChange {
        String action() { return "StartInstances"; }
        String finalState() { return "RUNNING"; }
    }

    @Command(name = "stop", description = "Stop instances; their disks stop being served.")
    static final class Stop extends StateChange {
        String action() { return "StopInstances"; }
        String finalState() { return "STOPPED"; }
    }

    @Command(name = "reboot", description = "Reboot instances (NBD clients are disconnected and may reconnect).")
    static final class Reboot extends StateChange {
        String action() { return "RebootInstances"; }
        String finalState() { return "RUNNING"; }
    }

    @Command(name = "delete", description = "Terminate instances; their system disks go with them, data disks are detached.")
    static final class Delete extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "INSTANCE_ID", arity = "1..*") List<String> ids;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("InstanceIds", array(ids));
            api().call("TerminateInstances", p);
            return 0;
        }
    }

    private InstanceCommand() {}
}
