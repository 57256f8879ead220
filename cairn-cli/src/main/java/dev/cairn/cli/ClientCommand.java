package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Predicate;
import picocli.CommandLine;

/** Shared plumbing of the client commands: credentials, the API client, output, waiting. */
abstract class ClientCommand {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /** The global options; declared once on {@link Main} and inherited, so they bind to its fields. */
    Main.Global global() {
        return ((Main) spec.root().userObject()).global;
    }
    private ApiClient client;

    Path credentialsFile() {
        if (global().credentials != null) return global().credentials;
        String env = System.getenv("CAIRN_CREDENTIALS");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of("data", "credentials.json");
    }

    ApiClient api() throws IOException {
        if (client == null) client = new ApiClient(Credentials.read(credentialsFile(), Main.JSON), Main.JSON);
        return client;
    }

    Output out() {
        return new Output(global().output, Main.JSON, System.out);
    }

    static ObjectNode params() {
        return Main.JSON.createObjectNode();
    }

    static ArrayNode array(List<String> values) {
        ArrayNode a = Main.JSON.createArrayNode();
        values.forEach(a::add);
        return a;
    }

    /** The region's first availability zone, the default for creates. */
    String firstZone() throws IOException, ApiClient.ApiException {
        JsonNode zones = api().call("DescribeZones", params()).path("ZoneSet");
        if (zones.isEmpty()) throw new IllegalStateException("the region has no zones");
        return zones.get(0).path("Zone").asText();
    }

    /** DescribeDisks of exactly these ids. */
    JsonNode disks(List<String> ids) throws IOException, ApiClient.ApiException {
        ObjectNode p = params().put("Limit", 100);
        p.set("DiskIds", array(ids));
        return api().call("DescribeDisks", p).path("DiskSet");
    }

    /** DescribeInstances of exactly these ids. */
    JsonNode instances(List<String> ids) throws IOException, ApiClient.ApiException {
        ObjectNode p = params().put("Limit", 100);
        p.set("InstanceIds", array(ids));
        return api().call("DescribeInstances", p).path("InstanceSet");
    }

    /** DescribeSnapshots of one id: an empty array if there is no such snapshot. */
    JsonNode describeSnapshots(String id) throws IOException, ApiClient.ApiException {
        ObjectNode p = params();
        p.set("SnapshotIds", array(List.of(id)));
        return api().call("DescribeSnapshots", p).path("SnapshotSet");
    }

    /** One snapshot; fails with Tencent's not-found code if there is none. */
    JsonNode snapshot(String id) throws IOException, ApiClient.ApiException {
        JsonNode set = describeSnapshots(id);
        if (set.isEmpty()) throw new ApiClient.ApiException("InvalidSnapshotId.NotFound", "snapshot `" + id + "` does not exist", "");
        return set.get(0);
    }

    /** Waits until the snapshot is NORMAL, with a progress bar on stderr. */
    void waitNormal(String id) throws Exception {
        SnapshotCommand.waitNormal(this, id);
    }

    static List<String> strings(JsonNode array) {
        return Main.JSON.convertValue(array, Main.JSON.getTypeFactory().constructCollectionType(List.class, String.class));
    }

    /**
     * Polls {@code describe} until every row satisfies {@code done}, printing a dot per poll to stderr.
     * Fails after {@code timeout}.
     */
    static JsonNode waitFor(String what, Duration timeout, Describe describe, Predicate<JsonNode> done)
            throws IOException, ApiClient.ApiException, InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        PollInterval poll = new PollInterval();
        while (true) {
            JsonNode rows = describe.rows();
            boolean all = rows.size() > 0;
            for (JsonNode r : rows) all &= done.test(r);
            if (all) return rows;
            if (Instant.now().isAfter(deadline)) throw new IOException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            poll.sleep();
        }
    }

    /** Who a snapshot or an image is shared with (Describe…SharePermission). */
    static final List<Output.Column> SHARE_COLUMNS = List.of(new Output.Column("ACCOUNT", "AccountId"), new Output.Column("SINCE", "CreatedTime"));

    /**
     * How often a waiting CLI command asks again. Without progress to go by: a twentieth of the time waited
     * so far, between 20 and 100 ms — a short wait (most end within a second) learns of the end within
     * 20 ms, a long one within 100 ms. With a percentage done (snapshots, copies): half the time the rate
     * so far says is left, but at most a quarter of the time waited, between 20 and 250 ms, so polls
     * come 4 times a second mid-way (enough for the progress bar) and close in on the expected end. The
     * quarter is for short waits whose rate is not steady: an incremental snapshot at 40% after 0.46 s
     * (its first reads slowed by the client's own start-up) finished 0.1 s later, and a poll 250 ms
     * out saw it 176 ms late. Each poll costs both processes CPU the work being
     * waited for could use: on a freshly started server, whose API code still runs in the interpreter,
     * about 13 ms of server CPU (measured: 76 polls during a 7.4 s full snapshot, 6% of both cores).
     */
    static final class PollInterval {
        private final long started = System.nanoTime();

        void sleep() throws InterruptedException {
            sleep(-1);
        }

        /** Sleeps until the next poll, given the last percentage done (negative: not known). */
        void sleep(int percent) throws InterruptedException {
            Thread.sleep(millis((System.nanoTime() - started) / 1_000_000, percent)); // a CLI poll interval, not a test wait
        }

        static long millis(long waitedMillis, int percent) {
            if (percent <= 0 || percent >= 100) return Math.clamp(waitedMillis / 20, 20, 100);
            long left = waitedMillis * (100 - percent) / percent;
            return Math.clamp(Math.min(left / 2, waitedMillis / 4), 20, 250);
        }
    }

    @FunctionalInterface
    interface Describe {
        JsonNode rows() throws IOException, ApiClient.ApiException;
    }
}
