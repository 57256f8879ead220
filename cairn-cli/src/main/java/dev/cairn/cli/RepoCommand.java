package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cairn repo verify|gc|stats|rebuild-catalog}: repository maintenance (admin account). */
@Command(name = "repo", description = "Snapshot repository maintenance (admin): verify, gc, stats, rebuild-catalog.",
        subcommands = {RepoCommand.Verify.class, RepoCommand.Gc.class, RepoCommand.Stats.class, RepoCommand.RebuildCatalog.class})
final class RepoCommand {

    @Command(name = "verify", description = "Re-read and check chunks (all, or a sample) and every manifest and page. Exit 1 if anything is wrong.")
    static final class Verify extends ClientCommand implements Callable<Integer> {
        @Option(names = "--sample", paramLabel = "PERCENT", defaultValue = "100",
                description = "Re-read this percentage of the chunks (default: ${DEFAULT-VALUE}).") int percent;

        @Override
        public Integer call() throws Exception {
            JsonNode r = api().call("VerifyRepository", params().put("SamplePercent", percent));
            out().object(r);
            if (!r.path("Ok").asBoolean()) {
                for (JsonNode p : r.path("Problems")) System.err.println("problem: " + p.path("Kind").asText() + " " + p.path("Object").asText() + ": " + p.path("Detail").asText());
                return 1;
            }
            return 0;
        }
    }

    @Command(name = "gc", description = "Delete chunks and manifests no snapshot or disk needs any more (mark, grace, sweep).")
    static final class Gc extends ClientCommand implements Callable<Integer> {
        @Option(names = "--grace", defaultValue = "PT1H", paramLabel = "DURATION",
                description = "Spare objects younger than this (ISO-8601 or 30m/2h; default: ${DEFAULT-VALUE}).") String grace;

        @Override
        public Integer call() throws Exception {
            Duration d = ClockCommand.parse(grace);
            out().object(api().call("CollectRepositoryGarbage", params().put("GraceSeconds", d.toSeconds())));
            return 0;
        }
    }

    @Command(name = "stats", description = "Manifests, snapshots and bytes stored.")
    static final class Stats extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            out().object(api().call("DescribeRepository", params()));
            return 0;
        }
    }

    @Command(name = "rebuild-catalog", description = "Re-create missing snapshot records from the repository (after losing the catalog).")
    static final class RebuildCatalog extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            ObjectNode r = api().call("RebuildCatalog", params());
            if (global().output == Output.Format.json) {
                out().object(r);
                return 0;
            }
            strings(r.path("SnapshotIdSet")).forEach(System.out::println);
            Credentials admin = Credentials.read(credentialsFile(), Main.JSON);
            for (var a : r.path("AccountSet")) { // lost with the catalog: back under their numbers, with new keys
                Credentials restored = new Credentials(a.path("AccountId").asText(), a.path("SecretId").asText(),
                        a.path("SecretKey").asText(), admin.region(), admin.endpoint());
                System.err.println("cairn: account " + restored.accountId() + " re-created with a new key; its credentials file:");
                System.out.println(Main.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(restored));
            }
            return 0;
        }
    }

    private RepoCommand() {}
}
