package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;

class MainTest {
    @Test
    void everyTopLevelCommandIsListedUnderItsOwnName() {
        for (Map.Entry<String, Class<?>> e : Main.COMMANDS.entrySet()) {
            assertThat(e.getValue().getAnnotation(Command.class).name()).as(e.getValue().getSimpleName()).isEqualTo(e.getKey());
        }
    }

    @Test
    void theCommandNameIsTheFirstWordThatIsNotAGlobalOption() {
        assertThat(Main.commandWords("snapshot", "list")).first().isEqualTo("snapshot");
        assertThat(Main.commandWords("--credentials", "c.json", "--output", "json", "disk", "list")).first().isEqualTo("disk");
        assertThat(Main.commandWords("--output=json", "zones")).first().isEqualTo("zones");
        assertThat(Main.commandWords("--help")).isEmpty();
        assertThat(Main.commandWords()).isEmpty();
    }

    @Test
    void aNamedSubcommandIsBuiltAloneAndAnythingElseGetsItsWholeGroup() {
        var leaf = Main.command(SnapshotCommand.class, "create");
        assertThat(leaf.getCommandName()).isEqualTo("snapshot");
        assertThat(leaf.getSubcommands()).containsOnlyKeys("create");
        assertThat(Main.command(SnapshotCommand.class, null).getSubcommands()).containsKeys("create", "list", "rollback", "clone", "copies");
        assertThat(Main.command(SnapshotCommand.class, "bogus").getSubcommands()).hasSizeGreaterThan(10);
        assertThat(Main.command(RegionCommand.class, "x").getSubcommands()).isEmpty();
        assertThat(Main.commandWords("--output", "json", "snapshot", "--credentials", "c.json", "create", "disk-1", "--wait"))
                .containsExactly("snapshot", "create", "disk-1");
    }

    @Test
    void helpAndUnknownCommandsStillSeeEveryCommand() {
        var out = new java.io.ByteArrayOutputStream();
        var err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream stdout = System.out, stderr = System.err;
        try {
            System.setOut(new java.io.PrintStream(out, true));
            System.setErr(new java.io.PrintStream(err, true));
            assertThat(Main.run("--help")).isZero();
            assertThat(Main.run("bogus")).isNotZero();
            assertThat(Main.run("help", "snapshot")).isZero();
            // every command takes --help, even one with required parameters (it used to say "Unknown option" or "Missing required parameter")
            assertThat(Main.run("disk", "--help")).isZero();
            assertThat(Main.run("snapshot", "create", "--help")).isZero();
            assertThat(Main.run("snapshot", "create", "-h")).isZero();
            assertThat(Main.run("snapshot", "--help")).isZero();
            assertThat(Main.run("snapshot", "bogus")).isNotZero(); // the group's usage, listing what there is
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
        assertThat(out.toString()).contains("snapshot", "policy", "billing", "serve", "Snapshot a disk", "Usage: cairn snapshot create");
        assertThat(err.toString()).contains("Unmatched argument", "bogus", "rollback  Roll a disk back");
    }
}
