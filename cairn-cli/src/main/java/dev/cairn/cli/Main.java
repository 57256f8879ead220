package dev.cairn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code cairn}: the server ({@code cairn serve}) and a client of its API (every other command).
 * Exit status 0 on success; otherwise the API's error code and message go to stderr.
 */
@Command(name = "cairn", mixinStandardHelpOptions = true, version = "cairn 0.1.0",
        description = "Cloud disks over NBD with snapshots, behind a Tencent Cloud CBS-compatible API.",
        subcommands = {ServeCommand.class, AccountCommand.class, InstanceCommand.class, DiskCommand.class,
                RegionCommand.class, ClockCommand.class, SnapshotCommand.class, PolicyCommand.class, ImageCommand.class, RepoCommand.class, BillingCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    /** Options every command accepts, before or after the command name. */
    static final class Global {
        @Option(names = "--credentials", scope = ScopeType.INHERIT, paramLabel = "FILE",
                description = "Credentials file (default: $CAIRN_CREDENTIALS, else ./data/credentials.json).")
        Path credentials;

        @Option(names = "--output", scope = ScopeType.INHERIT, paramLabel = "table|json",
                description = "Output format (default: ${DEFAULT-VALUE}).", defaultValue = "table")
        Output.Format output = Output.Format.table;
    }

    @CommandLine.Mixin Global global;

    static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ApiClient.ApiException api) {
                cmd.getErr().println("cairn: " + api.code + ": " + api.getMessage() + " (request " + api.requestId + ")");
                return 2;
            }
            if (e instanceof java.io.IOException || e instanceof IllegalArgumentException || e instanceof IllegalStateException) {
                cmd.getErr().println("cairn: " + e.getMessage());
                return 1;
            }
            throw e;
        });
        return cl.execute(args);
    }
}
