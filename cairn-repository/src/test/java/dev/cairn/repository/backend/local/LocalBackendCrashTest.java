package dev.cairn.repository.backend.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cairn.repository.backend.BackendFullException;
import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a crash can leave in a local repository, and that none of it is ever visible as an object. */
class LocalBackendCrashTest {

    @TempDir
    Path dir;

    static ObjectKey chunkKey(byte[] content) throws Exception {
        return new ObjectKey(ObjectKind.CHUNK, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)));
    }

    static List<Path> tempFiles(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(p -> p.getFileName().toString().contains(".tmp-")).toList();
        }
    }

    @Test
    void batchPutsAreInvisibleUntilCommittedAndACrashOrCloseLeavesNone() throws Exception {
        byte[] one = "batched one".getBytes(), two = "batched two".getBytes();
        ObjectKey k1 = chunkKey(one), k2 = chunkKey(two);
        LocalBackend crashed = LocalBackend.open(dir);
        Backend.Batch batch = crashed.batch();
        assertThat(batch.putIfAbsent(k1, ByteBuffer.wrap(one))).isTrue();
        assertThat(batch.holds(k1)).isTrue();
        assertThat(batch.putIfAbsent(k1, ByteBuffer.wrap(one))).as("held: not written twice").isFalse();
        assertThat(crashed.exists(k1)).as("not visible before commit").isFalse();
        assertThat(tempFiles(dir)).hasSize(1);
        // "kill -9": the process dies with the batch uncommitted; the next open finds only a temp file
        crashed.close(); // releases the lock as the dead process's exit would; the batch is never committed
        try (LocalBackend reopened = LocalBackend.open(dir)) {
            assertThat(tempFiles(dir)).isEmpty();
            assertThat(reopened.exists(k1)).isFalse();
            try (Backend.Batch b = reopened.batch()) {
                b.putIfAbsent(k2, ByteBuffer.wrap(two));
            } // closed without commit: abandoned
            assertThat(tempFiles(dir)).isEmpty();
            assertThat(reopened.exists(k2)).isFalse();
            try (Backend.Batch b = reopened.batch()) {
                b.putIfAbsent(k2, ByteBuffer.wrap(two));
                b.commit();
            }
            assertThat(reopened.get(k2)).isEqualTo(ByteBuffer.wrap(two));
            assertThat(tempFiles(dir)).isEmpty();
        }
    }

    @Test
    void strayTempFilesAreInvisibleAndRemovedOnOpen() throws Exception {
        byte[] content = "a whole object".getBytes();
        ObjectKey real = chunkKey(content);
        ObjectKey half = chunkKey("an object whose put crashed".getBytes());
        try (LocalBackend backend = LocalBackend.open(dir)) {
            backend.putIfAbsent(real, ByteBuffer.wrap(content));
            // What a crash between "write temp" and "link" leaves: a temp file, possibly partial.
            Path target = backend.pathOf(half);
            Files.createDirectories(target.getParent());
            Files.write(target.resolveSibling(half.name() + ".tmp-0123456789abcdef"), "an obj".getBytes());
            Files.write(dir.resolve("config.tmp-fedcba9876543210"), "cairn-repo".getBytes());
            assertThat(backend.exists(half)).isFalse();
            assertThatThrownBy(() -> backend.get(half)).isInstanceOf(NoSuchObjectException.class);
            List<ObjectKey> listed = new ArrayList<>();
            backend.list(ObjectKind.CHUNK, i -> listed.add(i.key()));
            backend.list(ObjectKind.CONFIG, i -> listed.add(i.key()));
            assertThat(listed).containsExactly(real);
            assertThat(backend.putIfAbsent(half, ByteBuffer.wrap("an object whose put crashed".getBytes()))).isTrue();
        }
        assertThat(tempFiles(dir)).hasSize(2);
        try (LocalBackend reopened = LocalBackend.open(dir)) {
            assertThat(tempFiles(dir)).isEmpty();
            assertThat(reopened.get(real)).isEqualTo(ByteBuffer.wrap(content));
            assertThat(reopened.exists(half)).isTrue();
        }
    }

    @Test
    void aFailedPutLeavesNoObjectAndNoTempFile() throws Exception {
        try (LocalBackend backend = LocalBackend.open(dir)) {
            byte[] content = "x".repeat(1000).getBytes();
            ObjectKey key = chunkKey(content);
            // Make the fan-out directory impossible to create: a file sits where it should be.
            Files.write(backend.pathOf(key).getParent(), new byte[0]);
            assertThatThrownBy(() -> backend.putIfAbsent(key, ByteBuffer.wrap(content))).isInstanceOf(IOException.class);
            assertThat(backend.exists(key)).isFalse();
            assertThat(tempFiles(dir)).isEmpty();
        }
    }

    @Test
    void aSecondOpenerIsRefused() throws Exception {
        try (LocalBackend first = LocalBackend.open(dir)) {
            assertThatThrownBy(() -> LocalBackend.open(dir)).isInstanceOf(IOException.class).hasMessageContaining("in use");
            assertThat(first.describe()).contains(dir.toString());
        }
        LocalBackend.open(dir).close(); // released on close
    }

    @Test
    void diskFullBecomesANonRetriedBackendFullError() {
        IOException write = LocalBackend.classify(new IOException("No space left on device"), "put chunks/ab/x");
        assertThat(write).isInstanceOf(BackendFullException.class).hasMessageContaining("full").hasMessageContaining("put chunks/ab/x");
        IOException link = LocalBackend.classify(new FileSystemException("a", "b", "Disk quota exceeded"), "put");
        assertThat(link).isInstanceOf(BackendFullException.class);
        IOException other = new IOException("Input/output error");
        assertThat(LocalBackend.classify(other, "put")).isSameAs(other);
    }

    @Test
    void closedBackendsRefuseWork() throws Exception {
        LocalBackend backend = LocalBackend.open(dir);
        backend.close();
        backend.close();
        assertThatThrownBy(() -> backend.exists(new ObjectKey(ObjectKind.CONFIG, "config"))).hasMessageContaining("closed");
    }

    /**
     * A real crash: a separate JVM puts objects in a loop and is killed with SIGKILL mid-stream. Every
     * object visible afterwards must be complete (its bytes hash to its name), and reopening removes
     * whatever temp files the kill left.
     */
    @Test
    void killDashNineDuringPutsLeavesOnlyCompleteObjects() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
                CrashWriter.class.getName(), dir.toString()).redirectErrorStream(true).start();
        int stored = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("stored ") && ++stored >= 25) break;
            }
            child.destroyForcibly(); // SIGKILL: no shutdown hooks, no finally blocks
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(stored).as("the child wrote objects before it was killed").isGreaterThanOrEqualTo(25);
        try (LocalBackend reopened = LocalBackend.open(dir)) {
            assertThat(tempFiles(dir)).isEmpty();
            List<ObjectInfo> objects = new ArrayList<>();
            reopened.list(ObjectKind.CHUNK, objects::add);
            assertThat(objects.size()).isGreaterThanOrEqualTo(25);
            for (ObjectInfo info : objects) {
                ByteBuffer bytes = reopened.get(info.key());
                byte[] content = new byte[bytes.remaining()];
                bytes.get(content);
                assertThat(content).hasSize(CrashWriter.SIZE);
                assertThat(chunkKey(content)).as("content of %s", info.key()).isEqualTo(info.key());
            }
        }
    }

    /** The child process of the kill test: puts content-addressed 256 KiB objects until killed. */
    public static final class CrashWriter {
        static final int SIZE = 256 * 1024;

        public static void main(String[] args) throws Exception {
            try (LocalBackend backend = LocalBackend.open(Path.of(args[0]))) {
                java.util.Random random = new java.util.Random();
                for (int i = 0; i < 100_000; i++) {
                    byte[] content = new byte[SIZE];
                    random.nextBytes(content);
                    backend.putIfAbsent(chunkKey(content), ByteBuffer.wrap(content));
                    System.out.println("stored " + i);
                }
            }
        }
    }
}
