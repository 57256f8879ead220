package dev.cairn.repository.backend.local;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * Two Linux calls Java has no API for, through the FFM API. {@code syncfs(2)}: one call makes every
 * dirty page and metadata change of the file system holding a path durable (a journal commit and a
 * device cache flush) — what a batch of thousands of objects needs, instead of two fsyncs per object.
 * {@code posix_fadvise(WILLNEED)}: starts the kernel's read-ahead of a file range without copying a
 * byte. Linux only; {@link #available()} says whether they can be used here.
 */
final class LinuxFiles {
    private static final int O_RDONLY = 0, O_CLOEXEC = 0x80000;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN;
    private static final MethodHandle SYNCFS;
    private static final MethodHandle FADVISE;
    private static final int POSIX_FADV_WILLNEED = 3;
    private static final MethodHandle CLOSE;

    static {
        MethodHandle open = null, syncfs = null, close = null, fadvise = null;
        try {
            Linker.Option errno = Linker.Option.captureCallState("errno");
            var libc = LINKER.defaultLookup();
            open = LINKER.downcallHandle(libc.find("open").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), errno);
            syncfs = LINKER.downcallHandle(libc.find("syncfs").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), errno);
            close = LINKER.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            fadvise = LINKER.downcallHandle(libc.find("posix_fadvise").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        } catch (RuntimeException | LinkageError e) {
            open = null; // not Linux, or native access refused: callers fsync object by object
        }
        OPEN = open;
        SYNCFS = syncfs;
        CLOSE = close;
        FADVISE = fadvise;
    }

    private LinuxFiles() {}

    static boolean available() {
        return OPEN != null;
    }

    /** Makes everything written to the file system holding {@code path} durable. */
    static void sync(Path path) throws IOException {
        onOpenFile(path, "syncfs", (fd, state) -> {
            if ((int) SYNCFS.invokeExact(state, fd) != 0) throw new IOException("syncfs on " + path + " failed: errno " + (int) ERRNO.get(state, 0L));
        });
    }

    /** Asks the kernel to read {@code length} bytes of the file from {@code offset} into its cache in the background. */
    static void willNeed(Path path, long offset, long length) throws IOException {
        onOpenFile(path, "posix_fadvise", (fd, state) -> {
            int ignored = (int) FADVISE.invokeExact(fd, offset, length, POSIX_FADV_WILLNEED); // a hint: its result changes nothing
        });
    }

    /** A native call on an open file descriptor; {@code state} captures errno. */
    @FunctionalInterface
    private interface FdCall {
        void call(int fd, MemorySegment state) throws Throwable;
    }

    /** Opens {@code path} read-only, makes the call, closes it; failures are IOExceptions naming {@code what}. */
    private static void onOpenFile(Path path, String what, FdCall call) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw new IOException("open " + path + " for " + what + " failed: errno " + (int) ERRNO.get(state, 0L));
            try {
                call.call(fd, state);
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(what + " on " + path + " failed", t);
        }
    }
}
