package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import dev.cairn.volume.AtomicFiles;

/**
 * The credentials file ({@code DATA/credentials.json}, mode 0600) — the contract's shape:
 * {@code {"accountId","secretId","secretKey","region","endpoint"}}. Written by {@code cairn serve} for the
 * admin account, printed by {@code cairn account create}, read by every client command.
 */
record Credentials(String accountId, String secretId, String secretKey, String region, String endpoint) {

    static Credentials read(Path file, ObjectMapper json) throws IOException {
        try {
            // the tree, not data binding: binding a record costs every CLI command a few ms of introspection at start
            JsonNode tree = json.readTree(Files.readAllBytes(file));
            Credentials c = new Credentials(text(tree, "accountId"), text(tree, "secretId"), text(tree, "secretKey"),
                    text(tree, "region"), text(tree, "endpoint"));
            if (c.secretId() == null || c.secretKey() == null || c.endpoint() == null) {
                throw new IOException("credentials file " + file + " lacks secretId, secretKey or endpoint");
            }
            return c.region() == null ? new Credentials(c.accountId(), c.secretId(), c.secretKey(), "ap-guangzhou", c.endpoint()) : c;
        } catch (NoSuchFileException e) {
            throw new IOException("no credentials file at " + file + " (start 'cairn serve' once, or pass --credentials FILE / set CAIRN_CREDENTIALS)");
        }
    }

    private static String text(JsonNode tree, String field) {
        JsonNode v = tree.path(field);
        return v.isValueNode() && !v.isNull() ? v.asText() : null;
    }

    void write(Path file, ObjectMapper json) throws IOException {
        AtomicFiles.write(file, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(this),
                PosixFilePermissions.fromString("rw-------"));
    }
}
