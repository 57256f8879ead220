package dev.cairn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
        description = "Cloud disks over NBD with snapshots, behind a Tencent Cloud CBS-compatible API.")
public final class Main implements Callable<Integer> {

    /**
     * The top-level commands by name, in help order. Only the one being run is built: picocli reflects
     * over a command's whole tree before it parses anything, and a client command's start is mostly that.
     */
    static final Map<String, Class<?>> COMMANDS = orderedCommands();

    private static Map<String, Class<?>> orderedCommands() {
        Map<String, Class<?>> m = new LinkedHashMap<>();
        m.put("serve", ServeCommand.class);
        m.put("account", AccountCommand.class);
        m.put("instance", InstanceCommand.class);
        m.put("disk", DiskCommand.class);
        m.put("zones", RegionCommand.class);
        m.put("clock", ClockCommand.class);
        m.put("snapshot", SnapshotCommand.class);
        m.put("policy", PolicyCommand.class);
        m.put("image", ImageCommand.class);
        m.put("repo", RepoCommand.class);
        m.put("billing", BillingCommand.class);
        m.put("help", CommandLine.HelpCommand.class);
        return Collections.unmodifiableMap(m);
    }

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
        List<String> words = commandWords(args);
        String name = words.isEmpty() ? null : words.getFirst();
        if (COMMANDS.containsKey(name) && !name.equals("help")) {
            cl.addSubcommand(name, command(COMMANDS.get(name), words.size() > 1 ? words.get(1) : null));
        } else { // usage, help, or an unknown command: picocli lists (or suggests from) them all
            for (Class<?> c : COMMANDS.values()) cl.addSubcommand(c);
        }
        for (CommandLine sub : cl.getSubcommands().values()) withHelpOption(sub);
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

    /** {@code -h, --help} on every command below the top: usage and exit 0, even where parameters are required. */
    static final class HelpOption {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
        boolean help;
    }

    private static void withHelpOption(CommandLine cl) {
        if (!cl.getCommandSpec().optionsMap().containsKey("--help")) {
            cl.getCommandSpec().addMixin("help", CommandLine.Model.CommandSpec.forAnnotatedObject(new HelpOption()));
        }
        for (CommandLine sub : cl.getSubcommands().values()) withHelpOption(sub);
    }

    /**
     * The command {@code type}; of a group of commands, only its subcommand {@code leaf} if that names
     * one (so {@code cairn snapshot create} reflects over one class, not the group's fifteen). Anything
     * else (no leaf, an unknown one, the group's help) gets the whole group, for picocli to list or suggest.
     */
    static CommandLine command(Class<?> type, String leaf) {
        Command group = type.getAnnotation(Command.class);
        for (Class<?> sub : group.subcommands()) {
            if (sub.getAnnotation(Command.class).name().equals(leaf)) {
                CommandLine.Model.CommandSpec spec = CommandLine.Model.CommandSpec.create().name(group.name());
                spec.usageMessage().description(group.description());
                return new CommandLine(spec).addSubcommand(leaf, new CommandLine(sub));
            }
        }
        return new CommandLine(type);
    }

    /** The arguments that are not global options or their values, in order: the command's name, its subcommand's, … */
    static List<String> commandWords(String... args) {
        List<String> words = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--credentials") || a.equals("--output")) i++; // the option's value
            else if (!a.startsWith("-")) words.add(a);
        }
        return words;
    }
}
