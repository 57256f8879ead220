package dev.cairn.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code cairn account create NAME} (admin only): prints the new account's credentials JSON. */
@Command(name = "account", description = "Accounts (admin).", subcommands = AccountCommand.Create.class)
final class AccountCommand {

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
