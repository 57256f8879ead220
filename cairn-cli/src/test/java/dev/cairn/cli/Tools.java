package dev.cairn.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs real programs (nbdinfo, qemu-io, the cairn CLI, …) with a deadline and captures their output. */
final class Tools {
    /** Debian's python3 first, for nbdsh. */
    static final String PATH = "/usr/bin:/bin:/usr/sbin:/sbin:" + System.getenv("PATH");

    record Result(int exit, String out, String err) {
        Result ok() {
            assertThat(exit).as("exit status; stdout:\n%s\nstderr:\n%s", out, err).isZero();
            return this;
        }
    }

    static Result run(Map<String, String> env, List<String> command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PATH", PATH);
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command.getFirst() + " (install the test tools: scripts/install-test-tools.sh)", e);
        }
        p.getOutputStream().close();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p, false));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p, true));
        if (!p.waitFor(CairnProcess.timeout().toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command + " did not finish within " + CairnProcess.timeout());
        }
        return new Result(p.exitValue(), out.join(), err.join());
    }

    static Result run(String... command) throws IOException, InterruptedException {
        return run(Map.of(), List.of(command));
    }

    /** The cairn CLI as users run it, against the credentials of {@code credentials}. */
    static Result cairn(Path credentials, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(CairnProcess.java());
        cmd.addAll(List.of("-jar", CairnProcess.jar().toString()));
        cmd.addAll(List.of(args));
        return run(Map.of("CAIRN_CREDENTIALS", credentials.toString()), cmd);
    }

    private static String read(Process p, boolean err) {
        try {
            return new String((err ? p.getErrorStream() : p.getInputStream()).readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "<unreadable: " + e + ">";
        }
    }

    private Tools() {}
}
