package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cairn image create|list|delete|share|shares} over CreateImage, DescribeImages, DeleteImages and the share actions. */
@Command(name = "image", description = "Images: custom ones made from an instance or snapshots, to launch identical instances from.",
        subcommands = {ImageCommand.Create.class, ImageCommand.ListImages.class, ImageCommand.Delete.class, ImageCommand.Share.class,
                ImageCommand.Shares.class, ImageCommand.Import.class})
final class ImageCommand {
    static final List<Output.Column> COLUMNS = List.of(new Output.Column("IMAGE", "ImageId"), new Output.Column("NAME", "ImageName"),
            new Output.Column("TYPE", "ImageType"), new Output.Column("STATE", "ImageState"), new Output.Column("SIZE_GB", "ImageSize"),
            new Output.Column("CREATED", "CreatedTime"));

    private ImageCommand() {}

    @Command(name = "create", description = "Make an image of an instance's system disk (and --data-disk disks) at one instant, or of --snapshot snapshots; prints its id.")
    static final class Create extends ClientCommand implements Callable<Integer> {
        @Option(names = "--name", required = true) String name;
        @Option(names = "--instance", paramLabel = "INSTANCE_ID") String instance;
        @Option(names = "--data-disk", paramLabel = "DISK_ID", description = "With --instance: also this data disk (repeatable).") List<String> dataDisks;
        @Option(names = "--snapshot", paramLabel = "SNAPSHOT_ID", description = "Instead of --instance: these snapshots, one of a system disk (repeatable).")
        List<String> snapshots;
        @Option(names = "--description") String description;
        @Option(names = "--wait", description = "Wait until the image is NORMAL.") boolean wait;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("ImageName", name);
            if (instance != null) p.put("InstanceId", instance);
            if (dataDisks != null) p.set("DataDiskIds", array(dataDisks));
            if (snapshots != null) p.set("SnapshotIds", array(snapshots));
            if (description != null) p.put("ImageDescription", description);
            String id = api().call("CreateImage", p).path("ImageId").asText();
            if (wait) waitFor("the image", Duration.ofHours(12), () -> images(id), i -> i.path("ImageState").asText().equals("NORMAL"));
            System.out.println(id);
            return 0;
        }

        private JsonNode images(String id) throws java.io.IOException, ApiClient.ApiException {
            ObjectNode p = params();
            p.set("ImageIds", array(List.of(id)));
            return api().call("DescribeImages", p).path("ImageSet");
        }
    }

    @Command(name = "import", description = "Admin: import a disk image file (raw, qcow2, … — whatever qemu-img reads) as a public image; prints its id.")
    static final class Import extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "FILE") java.nio.file.Path file;
        @Option(names = "--name", required = true) String name;
        @Option(names = "--description") String description;

        @Override
        public Integer call() throws Exception {
            if (!java.nio.file.Files.isReadable(file)) throw new IllegalArgumentException("cannot read " + file);
            JsonNode info = Main.JSON.readTree(run("qemu-img", "info", "--output=json", file.toString()));
            long bytes = info.path("virtual-size").asLong();
            int gib = (int) Math.max(20, (bytes + (1L << 30) - 1) >> 30);
            // a scratch instance whose system disk receives the file over NBD, imaged, published, then removed
            ObjectNode runReq = params().put("ImageId", "img-blank001").put("InstanceName", "import " + name);
            runReq.putObject("Placement").put("Zone", firstZone());
            runReq.putObject("SystemDisk").put("DiskType", "CLOUD_PREMIUM").put("DiskSize", gib);
            String instance = api().call("RunInstances", runReq).path("InstanceIdSet").get(0).asText();
            try {
                waitFor("the scratch instance", Duration.ofMinutes(5), () -> instances(List.of(instance)),
                        i -> i.path("InstanceState").asText().equals("RUNNING"));
                String disk = instances(List.of(instance)).get(0).path("SystemDisk").path("DiskId").asText();
                String nbd = api().call("DescribeEndpoints", params()).path("Nbd").asText();
                System.err.println("writing " + file + " (" + (bytes >> 20) + " MiB) onto " + disk);
                run("qemu-img", "convert", "-n", "-O", "raw", file.toString(), nbd + "/" + disk);
                ObjectNode create = params().put("ImageName", name).put("InstanceId", instance);
                if (description != null) create.put("ImageDescription", description);
                String id = api().call("CreateImage", create).path("ImageId").asText();
                ObjectNode byId = params();
                byId.set("ImageIds", array(List.of(id)));
                waitFor("the image", Duration.ofHours(12), () -> api().call("DescribeImages", byId).path("ImageSet"),
                        i -> i.path("ImageState").asText().equals("NORMAL"));
                api().call("PublishImage", params().put("ImageId", id));
                System.out.println(id);
                return 0;
            } finally {
                ObjectNode term = params();
                term.set("InstanceIds", array(List.of(instance)));
                api().call("TerminateInstances", term); // the image keeps its snapshots
            }
        }

        private static String run(String... command) throws Exception {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new java.io.IOException(String.join(" ", command) + " failed with exit status " + p.exitValue());
            return out;
        }
    }

    @Command(name = "list", description = "Images: the public ones, the account's own, and those shared with it.")
    static final class ListImages extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            ObjectNode r = api().call("DescribeImages", params().put("Limit", 100));
            out().rows(r, r.path("ImageSet"), COLUMNS);
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete images (instances made from them keep working).")
    static final class Delete extends ClientCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "IMAGE_ID") List<String> ids;
        @Option(names = "--with-snapshots", description = "Delete their snapshots too.") boolean withSnapshots;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("DeleteBindedSnap", withSnapshots);
            p.set("ImageIds", array(ids));
            api().call("DeleteImages", p);
            return 0;
        }
    }

    @Command(name = "share", description = "Let other accounts launch instances from an image, or --cancel.")
    static final class Share extends ClientCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE_ID") String id;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "ACCOUNT_ID") List<String> accounts;
        @Option(names = "--cancel") boolean cancel;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("ImageId", id).put("Permission", cancel ? "CANCEL" : "SHARE");
            p.set("AccountIds", array(accounts));
            api().call("ModifyImageSharePermission", p);
            return 0;
        }
    }

    @Command(name = "shares", description = "The accounts an image is shared with.")
    static final class Shares extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "IMAGE_ID") String id;

        @Override
        public Integer call() throws Exception {
            ObjectNode r = api().call("DescribeImageSharePermission", params().put("ImageId", id));
            out().rows(r, r.path("SharePermissionSet"), SHARE_COLUMNS);
            return 0;
        }
    }
}
