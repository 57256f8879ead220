package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class AotTrainingTest {
    /** The training takes the client's paths to their end (a snapshot waited for, a table printed), not to a failure. */
    @Test
    void theTrainingRunsTheClientsCommandsToTheirEnd() throws Exception {
        PrintStream out = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = AotTraining.run();
        } finally {
            System.setOut(out);
        }
        assertThat(status).isZero();
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("snap-training").contains("disk-training");
    }
}
