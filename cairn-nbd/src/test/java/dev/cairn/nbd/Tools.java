package dev.cairn.nbd;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.fail;

/**
 * Runs the real NBD clients as processes. A missing tool FAILS the test with the package to install
 * (CI installs them); nothing is skipped. Children get the system directories first on PATH, so
 * {@code nbdsh} runs under Debian's python3 (which has the {@code nbd} module), not a pyenv one.
 */
final class Tools {
    private Tools() {}

    static final String PATH = "/usr/bin:/bin:/usr/sbin:/sbin:" + System.getenv().getOrDefault("PATH", "");
    private static final Path SCRATCH = scratch();

    private static Path scratch() {
        try {
            Path dir = Files.createTempDirectory("cairn-nbd-tools");
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
    private static final Map<String, String> PACKAGES = Map.ofEntries(
            Map.entry("nbdinfo", "libnbd-bin"), Map.entry("nbdcopy", "libnbd-bin"), Map.entry("nbdsh", "python3-libnbd"),
            Map.entry("qemu-io", "qemu-utils"), Map.entry("qemu-img", "qemu-utils"), Map.entry("qemu-nbd", "qemu-utils"),
            Map.entry("fio", "fio"), Map.entry("mke2fs", "e2fsprogs"), Map.entry("e2fsck", "e2fsprogs"),
            Map.entry("debugfs", "e2fsprogs"), Map.entry("nbdkit", "nbdkit"));

    record Result(List<String> command, int exit, String out, String err) {
        String describe() {
            return String.join(" ", command) + "\nexit " + exit + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
        }
    }

    /** Absolute path of {@code tool}, or a test failure naming the Debian package. */
    static String require(String tool) {
        for (String dir : PATH.split(":")) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) return p.toString();
        }
        return fail("required tool '" + tool + "' is not installed: apt-get install " + PACKAGES.getOrDefault(tool, tool)
                + " (these tests never skip)");
    }

    /** Runs a command and returns its result, whatever the exit code. */
    static Result run(Duration timeout, String... command) {
        return run(timeout, Map.of(), command);
    }

    static Result run(Duration timeout, Map<String, String> env, String... command) {
        List<String> cmd = new ArrayList<>(List.of(command));
        cmd.set(0, require(cmd.get(0)));
        try {
            File out = File.createTempFile("tool", ".out");
            File err = File.createTempFile("tool", ".err");
            try {
                // run in a scratch directory: some tools drop files in their working directory (fio's verify state)
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out).redirectError(err)
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).directory(SCRATCH.toFile());
                pb.environment().put("PATH", PATH);
                pb.environment().putAll(env);
                Process p = pb.start();
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly().waitFor();
                    return fail("timed out after " + timeout + ": " + String.join(" ", cmd) + "\n--- stdout ---\n"
                            + read(out) + "\n--- stderr ---\n" + read(err));
                }
                return new Result(cmd, p.exitValue(), read(out), read(err));
            } finally {
                out.delete();
                err.delete();
            }
        } catch (IOException e) {
            return fail("cannot run " + cmd + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted running " + cmd);
        }
    }

    /** Runs a command that must exit 0; fails with its full output otherwise. */
    static Result ok(Duration timeout, String... command) {
        Result r = run(timeout, command);
        if (r.exit() != 0) fail("command failed: " + r.describe());
        return r;
    }

    static Result ok(String... command) {
        return ok(Duration.ofSeconds(60), command);
    }

    /** nbdsh with each script line as a {@code -c} argument, on a URI or in option mode (uri null). */
    static Result nbdsh(String uri, String... lines) {
        List<String> cmd = new ArrayList<>();
        cmd.add("nbdsh");
        if (uri != null) {
            cmd.add("-u");
            cmd.add(uri);
        }
        for (String line : lines) {
            cmd.add("-c");
            cmd.add(line);
        }
        return run(Duration.ofSeconds(60), cmd.toArray(String[]::new));
    }

    private static String read(File f) throws IOException {
        return Files.readString(f.toPath(), StandardCharsets.UTF_8);
    }
}
