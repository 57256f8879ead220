package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cairn billing report --month YYYY-MM [--account ID] [--csv]}: the month's bill for stored snapshot data. */
@Command(name = "billing", description = "Bills for stored snapshot data.", subcommands = BillingCommand.Report.class)
final class BillingCommand {
    private BillingCommand() {}

    @Command(name = "report", description = "A month's bill per account and per snapshot (the admin sees every account).")
    static final class Report extends ClientCommand implements Callable<Integer> {
        @Option(names = "--month", required = true, paramLabel = "YYYY-MM") String month;
        @Option(names = "--account", paramLabel = "ACCOUNT_ID", description = "Only this account.") String account;
        @Option(names = "--csv", description = "One CSV line per snapshot: account,snapshot,disk,gib_hours,cost,currency.") boolean csv;

        @Override
        public Integer call() throws Exception {
            ObjectNode p = params().put("Month", month);
            if (account != null) p.put("AccountId", account);
            ObjectNode r = api().call("DescribeSnapshotBilling", p);
            String currency = r.path("Currency").asText();
            if (global().output == Output.Format.json) {
                out().object(r);
            } else if (csv) {
                System.out.println("account_id,snapshot_id,disk_id,gib_hours,cost,currency");
                for (JsonNode a : r.path("AccountSet")) {
                    for (JsonNode l : a.path("SnapshotSet")) {
                        System.out.println(String.join(",", a.path("AccountId").asText(), l.path("SnapshotId").asText(), l.path("DiskId").asText(),
                                String.format(Locale.ROOT, "%.6f", l.path("GiBHours").asDouble()), String.format(Locale.ROOT, "%.6f", l.path("Cost").asDouble()),
                                currency));
                    }
                }
            } else {
                System.out.printf(Locale.ROOT, "%s at %s %s per GiB-month (730 h)%n", r.path("Month").asText(), r.path("PricePerGiBMonth").asText(), currency);
                for (JsonNode a : r.path("AccountSet")) {
                    System.out.printf(Locale.ROOT, "account %s: %.3f GiB-hours, %.4f %s%n", a.path("AccountId").asText(), a.path("GiBHours").asDouble(),
                            a.path("Cost").asDouble(), currency);
                    for (JsonNode l : a.path("SnapshotSet")) {
                        System.out.printf(Locale.ROOT, "  %s  %s  %.3f GiB-hours  %.4f %s%n", l.path("SnapshotId").asText(), l.path("DiskId").asText(),
                                l.path("GiBHours").asDouble(), l.path("Cost").asDouble(), currency);
                    }
                }
            }
            return 0;
        }
    }
}
