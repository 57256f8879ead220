package dev.cairn.control;

import dev.cairn.control.ControlException.InvalidValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Consistency hooks that policies run on the server (e.g. a guest agent's fs-freeze before the barrier
 * and thaw after it). An API caller only names a hook; the programs themselves are installed by the
 * operator as executables in one directory ({@code <data>/hooks} by default), so no account can make
 * the server run a command of its choosing.
 *
 * <p>A hook runs with the disk, instance and policy in its environment ({@code CAIRN_DISK_ID},
 * {@code CAIRN_INSTANCE_ID}, {@code CAIRN_POLICY_ID}, {@code CAIRN_HOOK_PHASE} = {@code pre|post}), its
 * output goes to the server's log, and it is killed (with its children) after the timeout. Thread-safe.
 */
public final class ServerHooks {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private final Path dir;

    /** @param dir where hook programs live; null means none are installed */
    public ServerHooks(Path dir) {
        this.dir = dir;
    }

    public static ServerHooks none() {
        return new ServerHooks(null);
    }

    /** Refuses a name that is malformed or not installed; null (no hook) passes. */
    void requireInstalled(String name, String field) {
        if (name == null) return;
        if (!NAME.matcher(name).matches()) {
            throw new InvalidValue(field, InvalidValue.Reason.VALUE, "`" + field + "` must be a hook name (letters, digits, '.', '_', '-'), got `"
                    + name + "`");
        }
        if (dir == null || !Files.isExecutable(dir.resolve(name))) {
            throw new InvalidValue(field, InvalidValue.Reason.VALUE, "no hook named `" + name + "` is installed on this server"
                    + (dir == null ? "" : " (executables in " + dir + ")"));
        }
    }

    /** Runs a hook to its end; throws with its exit status or the timeout. */
    void run(String name, Map<String, String> env, Duration timeout) throws IOException, InterruptedException {
        requireInstalled(name, "hook");
        Path log = Files.createTempFile("cairn-hook-", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(dir.resolve(name).toString()).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            p.getOutputStream().close();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
                throw new IOException("hook `" + name + "` did not finish within " + timeout.toSeconds() + " s and was killed");
            }
            if (p.exitValue() != 0) {
                throw new IOException("hook `" + name + "` failed with exit status " + p.exitValue() + ": " + tail(log));
            }
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static String tail(Path log) throws IOException {
        String out = new String(Files.readAllBytes(log), java.nio.charset.StandardCharsets.UTF_8).strip();
        return out.length() <= 200 ? out : "…" + out.substring(out.length() - 200);
    }
}
