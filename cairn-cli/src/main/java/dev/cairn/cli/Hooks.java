package dev.cairn.cli;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Consistency hooks around a snapshot: a shell command run with {@code sh -c}, its output passed
 * through to stderr, {@code CAIRN_DISK_ID} in its environment, killed after a timeout. A hook that
 * fails or times out is an error (the pre-hook's failure means no snapshot is taken).
 */
final class Hooks {
    private Hooks() {}

    static void run(String what, String command, String diskId, Duration timeout) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(new java.io.File("/dev/stderr"))); // stdout carries the snapshot id
        pb.environment().put("CAIRN_DISK_ID", diskId);
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor();
            throw new IOException(what + " did not finish within " + timeout.toSeconds() + " s and was killed: " + command);
        }
        if (p.exitValue() != 0) throw new IOException(what + " failed with exit status " + p.exitValue() + ": " + command);
    }
}
