package dev.cairn.cli;

import static dev.cairn.cli.Tools.cairn;
import static dev.cairn.cli.Tools.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.control.testing.PostgresServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cairn serve --catalog postgresql://…}: state lives in PostgreSQL, shared by every node that uses it. */
class PostgresCatalogIT {
    @TempDir Path tmp;

    @Test
    void twoNodesShareOnePostgresCatalogAndStateSurvivesRestarts() throws Exception {
        try (PostgresServer pg = PostgresServer.start()) {
            String url = pg.createDatabase();
            String disk;
            try (CairnProcess node1 = CairnProcess.start(tmp.resolve("node1"), "--catalog", url);
                 CairnProcess node2 = CairnProcess.start(tmp.resolve("node2"), "--catalog", url)) {
                var json = new ObjectMapper();
                assertThat(json.readTree(node2.credentials().toFile()).path("secretId").asText())
                        .as("one admin account in the shared catalog")
                        .isEqualTo(json.readTree(node1.credentials().toFile()).path("secretId").asText());
                String instance = cairn(node1.credentials(), "instance", "create", "--wait").ok().out().trim();
                disk = cairn(node1.credentials(), "disk", "create", "--size", "10", "--instance", instance, "--wait").ok().out().trim();
                assertThat(cairn(node2.credentials(), "disk", "list").ok().out()).contains(disk, "ATTACHED");
                run("qemu-io", "-f", "raw", "-c", "write -P 0x42 0 1M", "-c", "flush", node1.nbdUri(disk)).ok();
                assertThat(node2.stop()).isZero();
                assertThat(node1.stop()).isZero();
            }
            try (CairnProcess node1 = CairnProcess.start(tmp.resolve("node1"), "--catalog", url)) {
                assertThat(cairn(node1.credentials(), "disk", "list", disk).ok().out()).contains(disk, "ATTACHED");
                run("qemu-io", "-f", "raw", "-c", "read -P 0x42 0 1M", node1.nbdUri(disk)).ok();
                assertThat(node1.stop()).isZero();
            }
        }
    }
}
