package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.classfile.ClassFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded jar as the client starts from it: picocli's classes are class-file version 52 or later
 * (build/UpgradeClassFiles.java), the JVM verifies them, and an ahead-of-time cache made from a client
 * run holds them — bin/cairn's cache is what makes a client command start in about 160 ms.
 */
class ClientStartIT {

    private static final Path JAR = Path.of(System.getProperty("cairn.jar", "cairn-cli/target/cairn.jar"));

    @Test
    void picocliIsModernEnoughForTheAheadOfTimeCache() throws Exception {
        List<String> old = new ArrayList<>();
        int classes = 0;
        try (ZipFile jar = new ZipFile(JAR.toFile())) {
            for (ZipEntry e : Collections.list(jar.entries())) {
                if (!e.getName().startsWith("picocli/") || !e.getName().endsWith(".class")) continue;
                classes++;
                int major = ClassFile.of().parse(jar.getInputStream(e).readAllBytes()).majorVersion();
                if (major < 52) old.add(e.getName() + " (" + major + ")");
            }
        }
        assertThat(classes).isGreaterThan(100);
        assertThat(old).isEmpty();
    }

    @Test
    void aCacheMadeFromAClientRunHoldsPicocliAndTheVerifierAcceptsIt(@TempDir Path dir) throws Exception {
        Path credentials = dir.resolve("credentials.json");
        Files.writeString(credentials, "{\"secretId\":\"AKIDtest\",\"secretKey\":\"test\",\"endpoint\":\"http://127.0.0.1:9\"}");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // a client command with every class verified (nothing listens on port 9: it fails after parsing and signing)
        Process p = new ProcessBuilder(java, "-Xverify:all", "-XX:AOTCacheOutput=" + dir.resolve("client.aot"),
                "-Xlog:aot=warning", "-jar", JAR.toString(), "disk", "list", "--credentials", credentials.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).contains("cannot reach the Cairn API").doesNotContain("VerifyError");
        assertThat(dir.resolve("client.aot")).isNotEmptyFile();
        // what the cache cannot hold is listed as "Skipping <class>: <reason>" (175 picocli classes before the upgrade)
        assertThat(out).doesNotContain("Skipping picocli/");
    }
}
