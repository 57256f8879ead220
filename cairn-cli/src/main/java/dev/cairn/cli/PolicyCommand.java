package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cairn policy create|list|show|modify|bind|unbind|delete|history} over the auto-snapshot policy actions. */
@Command(name = "policy", description = "Auto-snapshot policies: snapshots of bound disks at set hours, kept for a set number of days.",
        subcommands = {PolicyCommand.Create.class, PolicyCommand.ListPolicies.class, PolicyCommand.Show.class, PolicyCommand.Modify.class,
                PolicyCommand.Bind.class, PolicyCommand.Unbind.class, PolicyCommand.Delete.class, PolicyCommand.History.class})
final class PolicyCommand {
    static final List<Output.Column> COLUMNS = List.of(
            new Output.Column("POLICY", "AutoSnapshotPolicyId"), new Output.Column("NAME", "AutoSnapshotPolicyName"),
            new Output.Column("SCHEDULE", "Schedule"), new Output.Column("KEEP", "Keep"),
            new Output.Column("ACTIVE", "IsActivated"), new Output.Column("NEXT", "NextTriggerTime"),
            new Output.Column("DISKS", "DiskIdSet"));
    static final List<Output.Column> RUN_COLUMNS = List.of(
            new Output.Column("DUE", "DueTime"), new Output.Column("DISK", "DiskId"), new Output.Column("STATE", "RunState"),
            new Output.Column("ATTEMPTS", "Attempts"), new Output.Column("SNAPSHOT", "SnapshotId"),
            new Output.Column("ADDED_BYTES", "StoredBytes"), new Output.Column("DETAIL", "Detail"));
    private static final List<String> DAY_NAMES = List.of("sun", "mon", "tue", "wed", "thu", "fri", "sat");

    /** When: hours, and at most one of days of the week, days of the month, every N days. */
    static final class When {
        @Option(names = "--hours", paramLabel = "H,H…", split = ",", description = "Hours of the day (0-23) in the region's time zone.")
        List<Integer> hours;
        @ArgGroup(exclusive = true)
        Days days;
    }

    static final class Days {
        @Option(names = "--days-of-week", paramLabel = "DAYS", description = "e.g. mon-fri, 1,3,5 or sat,sun (0 = Sunday).") String week;
        @Option(names = "--days-of-month", paramLabel = "D,D…", split = ",", description = "Days of the month (1-31).") List<Integer> month;
        @Option(names = "--every-days", paramLabel = "N", description = "Every N days (1-365), counted from today.") Integer interval;
    }

    /** Retention, hooks, name: shared by create and modify. */
    static final class Settings {
        @Option(names = "--name", description = "Policy name (up to 60 bytes).") String name;
        @Option(names = "--retention-days", paramLabel = "DAYS", description = "Keep each snapshot this many days (default 7).") Integer retention;
        @Option(names = "--permanent", description = "Keep its snapshots until deleted by hand.") Boolean permanent;
        @Option(names = "--pre-hook", paramLabel = "NAME",
                description = "Hook the server runs before each snapshot (an executable the operator put in the server's hooks directory).")
        String preHook;
        @Option(names = "--post-hook", paramLabel = "NAME", description = "Hook the server runs once the snapshot's barrier is in place.")
        String postHook;
        @Option(names = "--hook-timeout", paramLabel = "SECONDS", description = "Kill a hook after this long (default 60).") Integer hookTimeout;

        void into(ObjectNode p) {
            if (name != null) p.put("AutoSnapshotPolicyName", name);
            if (retention != null) p.put("RetentionDays", retention);
            if (permanent != null) p.put("IsPermanent", permanent);
            if (preHook != null) p.put("PreHook", preHook);
            if (postHook != null) p.put("PostHook", postHook);
            if (hookTimeout != null) p.put("HookTimeoutSeconds", hookTimeout);
        }
    }

    static ArrayNode policy(When when) {
        ArrayNode list = Main.JSON.createArrayNode();
        ObjectNode rule = list.addObject();
        when.hours.forEach(rule.putArray("Hour")::add);
        if (when.days != null) {
            if (when.days.week != null) daysOfWeek(when.days.week).forEach(rule.putArray("DayOfWeek")::add);
            if (when.days.month != null) when.days.month.forEach(rule.putArray("DayOfMonth")::add);
            if (when.days.interval != null) rule.put("IntervalDays", when.days.interval);
        }
        return list;
    }

    /** {@code mon-fri}, {@code 1,3,5}, {@code sat,sun}, {@code 0-6} → Tencent's numbers (0 = Sunday). */
    static List<Integer> daysOfWeek(String text) {
        List<Integer> out = new ArrayList<>();
        for (String item : text.toLowerCase(Locale.ROOT).split(",")) {
            String[] range = item.strip().split("-");
            int from = day(range[0]);
            int to = range.length > 1 ? day(range[1]) : from;
            for (int d = from; ; d = (d + 1) % 7) {
                out.add(d);
                if (d == to) break;
            }
        }
        return out;
    }

    private static int day(String s) {
        int named = DAY_NAMES.indexOf(s.length() >= 3 ? s.substring(0, 3) : s);
        if (named >= 0) return named;
        try {
            int n = Integer.parseInt(s);
            if (n >= 0 && n <= 6) return n;
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new IllegalArgumentException("not a day of the week: `" + s + "` (use sun…sat or 0-6, 0 = Sunday)");
    }

    /** A policy row with two columns for people: its schedule in words and how long it keeps snapshots. */
    static ObjectNode readable(JsonNode policy) {
        ObjectNode row = policy.deepCopy();
        List<String> rules = new ArrayList<>();
        for (JsonNode r : policy.path("Policy")) {
            String hours = "at " + String.join(",", ClientCommand.strings(r.path("Hour")).stream().map(h -> String.format("%02d:00", Integer.parseInt(h))).toList());
            String days;
            if (r.hasNonNull("DayOfMonth")) days = "days " + r.path("DayOfMonth").toString().replaceAll("[\\[\\]]", "") + " of the month";
            else if (r.hasNonNull("IntervalDays")) days = "every " + r.path("IntervalDays").asInt() + " days";
            else if (r.path("DayOfWeek").size() == 7) days = "daily";
            else {
                List<String> names = new ArrayList<>();
                r.path("DayOfWeek").forEach(d -> names.add(DAY_NAMES.get(d.asInt())));
                days = String.join(",", names);
            }
            rules.add(days + " " + hours);
        }
        row.put("Schedule", String.join("; ", rules));
        row.put("Keep", policy.path("IsPermanent").asBoolean() ? "forever" : policy.path("RetentionDays").asInt() + "d");
        return row;
    }

    @Command(name = "create", description = "Create a policy; prints its id (and its first firing on stderr).")
    static final class Create extends ClientCommand implements Callable<Integer> {
        @ArgGroup(exclusive = false, multiplicity = "1") When when;
        @ArgGroup(exclusive = false) Settings settings = new Settings();
        @Option(names = "--inactive", description = "Create it switched off.") boolean inactive;
        @Option(names = "--disk", paramLabel = "DISK_ID", description = "Bind these disks at once (repeatable).") List<String> disks;

        @Override
        public Integer call() throws Exception {
            if (when.hours == null) throw new IllegalArgumentException("--hours is required");
            ObjectNode p = params();
            p.set("Policy", policy(when));
            settings.into(p);
            if (inactive) p.put("IsActivated", false);
            ObjectNode r = api().call("CreateAutoSnapshotPolicy", p);
            String id = r.path("AutoSnapshotPolicyId").asText();
            if (disks != null && !disks.isEmpty()) api().call("BindAutoSnapshotPolicy", params().put("AutoSnapshotPolicyId", id).set("DiskIds", array(disks)));
            if (global().output == Output.Format.json) {
                out().object(r);
            } else {
                System.out.println(id);
                System.err.println("next firing: " + r.path("NextTriggerTime").asText("-") + " (region time)");
            }
            return 0;
        }
    }

    @Command(name = "list", description = "List policies.")
    static final class ListPolicies extends ClientCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            ObjectNode r = api().call("DescribeAutoSnapshotPolicies", params().put("Limit", 100));
            ArrayNode rows = Main.JSON.createArrayNode();
            r.path("AutoSnapshotPolicySet").forEach(x -> rows.add(readable(x)));
            out().rows(r, rows, COLUMNS);
            return 0;
        }
    }

    @Command(name = "show", description = "One policy in detail.")
    static final class Show extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "POLICY_ID") String id;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("AutoSnapshotPolicyIds", array(List.of(id)));
            JsonNode set = api().call("DescribeAutoSnapshotPolicies", p).path("AutoSnapshotPolicySet");
            if (set.isEmpty()) throw new ApiClient.ApiException("InvalidAutoSnapshotPolicyId.NotFound", "policy `" + id + "` does not exist", "");
            out().object(readable(set.get(0)));
            return 0;
        }
    }

    @Command(name = "modify", description = "Change a policy's schedule, retention, hooks, name, or switch it on or off.")
    static final class Modify extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "POLICY_ID") String id;
        @ArgGroup(exclusive = false) When when;
        @ArgGroup(exclusive = false) Settings settings = new Settings();
        @Option(names = "--active", arity = "1", paramLabel = "true|false", description = "Switch the policy on or off.") Boolean active;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("AutoSnapshotPolicyId", id);
            if (when != null) {
                if (when.hours == null) throw new IllegalArgumentException("--hours is required with a new schedule");
                p.set("Policy", policy(when));
            }
            settings.into(p);
            if (active != null) p.put("IsActivated", active);
            api().call("ModifyAutoSnapshotPolicyAttribute", p);
            return 0;
        }
    }

    @Command(name = "bind", description = "Bind disks to a policy (a disk has one policy at most).")
    static final class Bind extends ClientCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "POLICY_ID") String id;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "DISK_ID") List<String> disks;

        @Override
        public Integer call() throws Exception {
            api().call("BindAutoSnapshotPolicy", params().put("AutoSnapshotPolicyId", id).set("DiskIds", array(disks)));
            return 0;
        }
    }

    @Command(name = "unbind", description = "Unbind disks from a policy (disks not bound to it are skipped).")
    static final class Unbind extends ClientCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "POLICY_ID") String id;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "DISK_ID") List<String> disks;

        @Override
        public Integer call() throws Exception {
            api().call("UnbindAutoSnapshotPolicy", params().put("AutoSnapshotPolicyId", id).set("DiskIds", array(disks)));
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete policies (the snapshots they made stay until their deadlines).")
    static final class Delete extends ClientCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "POLICY_ID") List<String> ids;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params();
            p.set("AutoSnapshotPolicyIds", array(ids));
            api().call("DeleteAutoSnapshotPolicies", p);
            return 0;
        }
    }

    @Command(name = "history", description = "What a policy did: one line per firing and disk (newest first), with result and size.")
    static final class History extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "POLICY_ID") String id;
        @Option(names = "--disk", description = "Only this disk.") String disk;
        @Option(names = "--limit", defaultValue = "50", description = "At most this many lines (default ${DEFAULT-VALUE}).") int limit;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("AutoSnapshotPolicyId", id).put("Limit", limit);
            if (disk != null) p.put("DiskId", disk);
            ObjectNode r = api().call("DescribeAutoSnapshotPolicyRuns", p);
            out().rows(r, r.path("RunSet"), RUN_COLUMNS);
            return 0;
        }
    }
}
