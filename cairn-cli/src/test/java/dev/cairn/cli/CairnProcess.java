package dev.cairn.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real {@code cairn serve} process on loopback with free ports, as users run it ({@code java -jar
 * cairn.jar}). {@link #start} returns once the ready line is printed; {@link #stop} sends SIGTERM,
 * {@link #kill} sends SIGKILL. Its stderr (the log) goes to {@code DATA/../serve-N.log} for post-mortems.
 */
final class CairnProcess implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("cairn ready api=(http://\\S+) nbd=nbd://(\\S+)");
    private static int starts;

    final Path data;
    final String api;       // http://127.0.0.1:PORT
    final String nbdHost;   // 127.0.0.1:PORT
    final Path log;
    private final Process process;

    private CairnProcess(Path data, String api, String nbdHost, Path log, Process process) {
        this.data = data;
        this.api = api;
        this.nbdHost = nbdHost;
        this.log = log;
        this.process = process;
    }

    static Path jar() {
        String jar = System.getProperty("cairn.jar");
        if (jar == null || !Files.exists(Path.of(jar))) {
            throw new IllegalStateException("cairn.jar not built (system property cairn.jar=" + jar + "); run through 'mvn verify'");
        }
        return Path.of(jar);
    }

    static List<String> java() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED");
    }

    static CairnProcess start(Path data, String... extraArgs) throws IOException, InterruptedException, TimeoutException {
        return start(data, java.util.Map.of(), extraArgs);
    }

    /** {@link #start(Path, String...)} with extra environment variables (e.g. S3 keys). */
    static CairnProcess start(Path data, java.util.Map<String, String> env, String... extraArgs)
            throws IOException, InterruptedException, TimeoutException {
        List<String> cmd = new ArrayList<>(java());
        cmd.addAll(List.of("-jar", jar().toString(), "serve", "--data", data.toString(),
                "--api-listen", "127.0.0.1:0", "--nbd-listen", "127.0.0.1:0"));
        cmd.addAll(List.of(extraArgs));
        Path log = data.resolveSibling(data.getFileName() + "-serve-" + (++starts) + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        Process p = pb.start();
        // One virtual thread owns stdout: it reports the ready line, then keeps draining so the pipe never fills.
        CompletableFuture<Matcher> ready = new CompletableFuture<>();
        Thread.ofVirtual().name("cairn-stdout").start(() -> {
            var in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            try (in) {
                String line;
                while ((line = in.readLine()) != null) {
                    Matcher m = READY.matcher(line);
                    if (m.find()) ready.complete(m);
                }
            } catch (IOException e) {
                // the process ended; what it said is in the log
            } finally {
                ready.complete(null);
            }
        });
        try {
            Matcher m = ready.get(60, TimeUnit.SECONDS);
            if (m == null) throw new IOException("cairn serve exited (" + p.waitFor() + ") before it was ready; log:\n" + Files.readString(log));
            return new CairnProcess(data, m.group(1), m.group(2), log, p);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException(e);
        } catch (TimeoutException e) {
            p.destroyForcibly();
            throw new TimeoutException("cairn serve not ready within 60 s; log:\n" + Files.readString(log));
        }
    }

    String nbdUri(String export) {
        return "nbd://" + nbdHost + "/" + export;
    }

    Path credentials() {
        return data.resolve("credentials.json");
    }

    /** SIGTERM and wait; returns the exit code. */
    int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("cairn serve did not stop within 30 s of SIGTERM");
        }
        return process.exitValue();
    }

    /** SIGKILL (kill -9) and wait. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    long pid() {
        return process.pid();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }

    static Duration timeout() {
        return Duration.ofMinutes(2);
    }
}
