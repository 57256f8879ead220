package dev.cairn.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code cairn account create NAME} (admin only): prints the new account's credentials JSON.
 * {@code cairn account quota [--account ID] [--set NAME=LIMIT]… [--reset NAME]…}: an account's quotas.
 */
@Command(name = "account", description = "Accounts and their quotas.", subcommands = {AccountCommand.Create.class, AccountCommand.Quota.class})
final class AccountCommand {
    static final java.util.List<Output.Column> QUOTA_COLUMNS = java.util.List.of(new Output.Column("QUOTA", "Name"),
            new Output.Column("LIMIT", "Limit"), new Output.Column("USED", "Used"), new Output.Column("SET_BY_ADMIN", "Custom"),
            new Output.Column("COUNTS", "Counts"));

    @Command(name = "quota", description = "Show an account's quotas and use; the admin may change them (-1: no limit).")
    static final class Quota extends ClientCommand implements Callable<Integer> {
        @picocli.CommandLine.Option(names = "--account", paramLabel = "ACCOUNT_ID", description = "Another account (admin only).") String account;
        @picocli.CommandLine.Option(names = "--set", paramLabel = "NAME=LIMIT", description = "e.g. snapshots-per-disk=100 (admin only; repeatable).")
        java.util.Map<String, Long> set;
        @picocli.CommandLine.Option(names = "--reset", paramLabel = "NAME", description = "Back to the server's default (admin only; repeatable).")
        java.util.List<String> reset;

        @Override
        public Integer call() throws Exception {
            if (set != null) {
                for (var e : set.entrySet()) api().call("ModifyAccountQuota", target().put("Name", e.getKey()).put("Limit", e.getValue()));
            }
            if (reset != null) for (String name : reset) api().call("ModifyAccountQuota", target().put("Name", name).put("Reset", true));
            ObjectNode r = api().call("DescribeAccountQuotas", target());
            out().rows(r, r.path("QuotaSet"), QUOTA_COLUMNS);
            return 0;
        }

        private ObjectNode target() {
            ObjectNode p = params();
            if (account != null) p.put("AccountId", account);
            return p;
        }
    }

    @Command(name = "create", description = "Create an account; prints its credentials file content.")
    static final class Create extends ClientCommand implements Callable<Integer> {
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() throws Exception {
            Credentials admin = Credentials.read(credentialsFile(), Main.JSON);
            ObjectNode r = api().call("CreateAccount", params().put("Name", name));
            Credentials created = new Credentials(r.path("AccountId").asText(), r.path("SecretId").asText(),
                    r.path("SecretKey").asText(), admin.region(), admin.endpoint());
            System.out.println(Main.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(created));
            return 0;
        }
    }

    private AccountCommand() {}
}
