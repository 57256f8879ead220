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
    void theCacheMadeFromTheTrainingRunHoldsPicocliAndServesTheClient(@TempDir Path dir) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path cache = dir.resolve("client.aot");
        // bin/cairn's training run, with every class verified
        String out = run(java, "-Xverify:all", "-XX:AOTCacheOutput=" + cache, "-Xlog:aot=warning", "-cp", JAR.toString(), "dev.cairn.cli.AotTraining");
        assertThat(out).doesNotContain("VerifyError").doesNotContain("Exception");
        assertThat(cache).isNotEmptyFile();
        // what the cache cannot hold is listed as "Skipping <class>: <reason>" (175 picocli classes before the upgrade)
        assertThat(out).doesNotContain("Skipping picocli/");
        // a client started with -jar (as bin/cairn starts it) takes its classes from the cache made with -cp
        String started = run(java, "-XX:AOTCache=" + cache, "-Xlog:class+load=info", "-jar", JAR.toString(), "--version");
        assertThat(started).contains("cairn 0.1.0").containsPattern("dev\\.cairn\\.cli\\.Main source: shared objects file");
    }

    /** Runs a JVM to its end (exit 0); returns what it printed. */
    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }
}
