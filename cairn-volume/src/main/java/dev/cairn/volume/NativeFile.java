package dev.cairn.volume;

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
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The few Linux file calls the JDK does not expose: {@code fallocate} (punch hole, zero range),
 * {@code lseek(SEEK_DATA/SEEK_HOLE)} for allocation maps, {@code ftruncate}, {@code posix_fadvise} and
 * {@code cachestat}, called through the FFM API on a file descriptor of our own.
 *
 * <p>The descriptor is opened beside the volume's {@link java.nio.channels.FileChannel}: both name the
 * same inode, so a hole punched here is seen by reads through the channel at once.
 *
 * <p>Thread-safe: the calls are positional and carry no state but the descriptor, which is closed only
 * by {@link #close()} after the owner has stopped issuing calls.
 */
final class NativeFile implements AutoCloseable {
    private static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    private static final int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02, FALLOC_FL_ZERO_RANGE = 0x10;
    private static final int SEEK_DATA = 3, SEEK_HOLE = 4;
    private static final int POSIX_FADV_WILLNEED = 3;
    static final int EPERM = 1, ENOSYS = 38, EINTR = 4, ENXIO = 6, EFBIG = 27, ENOSPC = 28, EOPNOTSUPP = 95, EDQUOT = 122;
    /** {@code cachestat(2)} (Linux 6.5) on x86-64 and aarch64; there is no libc wrapper. */
    private static final long SYS_CACHESTAT = 451;
    /** The smallest page size: with larger pages fewer pages are counted, and {@link #cached} just says no. */
    private static final long PAGE = 4096;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final ConcurrentLinkedQueue<MemorySegment> ERRNO_AREAS = new ConcurrentLinkedQueue<>();
    /** struct cachestat_range (2 × u64) then struct cachestat (5 × u64), pooled like the errno areas. */
    private static final ConcurrentLinkedQueue<MemorySegment> CACHESTAT_AREAS = new ConcurrentLinkedQueue<>();
    /** Cleared when the kernel has no cachestat (ENOSYS) or refuses it: {@link #cached} then says no. */
    private static volatile boolean cachestatWorks = true;

    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle FALLOCATE = downcall("fallocate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle LSEEK = downcall("lseek",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = downcall("ftruncate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle FADVISE = downcall("posix_fadvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private static final MethodHandle SYSCALL4 = downcall("syscall",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.firstVariadicArg(1));

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private final Path path;
    private final int fd;

    private NativeFile(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    static NativeFile open(Path path, boolean readOnly) throws IOException {
        int flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
        int fd = call(state -> {
            try (Arena arena = Arena.ofConfined()) {
                int r = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), flags, 0);
                if (r < 0) throw new NativeIOException("open " + path, errno(state));
                return r;
            }
        });
        return new NativeFile(path, fd);
    }

    /** Deallocates the range; it reads back as zeros. The file size does not change. */
    void punchHole(long offset, long length) throws IOException {
        fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length, "punch hole");
    }

    /** Zeroes the range and keeps it allocated. Throws {@link NativeIOException} EOPNOTSUPP where the file system cannot. */
    void zeroRange(long offset, long length) throws IOException {
        fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length, "zero range");
    }

    /** Allocates the range without changing content (plain fallocate with KEEP_SIZE). */
    void allocate(long offset, long length) throws IOException {
        fallocate(FALLOC_FL_KEEP_SIZE, offset, length, "allocate");
    }

    private void fallocate(int mode, long offset, long length, String what) throws IOException {
        call(state -> {
            int rc;
            do {
                rc = (int) FALLOCATE.invokeExact(state, fd, mode, offset, length);
            } while (rc != 0 && errno(state) == EINTR);
            if (rc != 0) throw new NativeIOException(what + " " + path + " at " + offset + "+" + length, errno(state));
            return rc;
        });
    }

    /** The first offset ≥ {@code from} holding data, or -1 if there is none. */
    long seekData(long from) throws IOException {
        return seek(from, SEEK_DATA);
    }

    /** The first offset ≥ {@code from} in a hole (the end of file counts as one), or -1 past the end. */
    long seekHole(long from) throws IOException {
        return seek(from, SEEK_HOLE);
    }

    private long seek(long from, int whence) throws IOException {
        return call(state -> {
            long r = (long) LSEEK.invokeExact(state, fd, from, whence);
            if (r >= 0) return r;
            if (errno(state) == ENXIO) return -1L;
            throw new NativeIOException("lseek " + path, errno(state));
        });
    }

    /** Sets the file length; growing adds a hole. */
    void truncate(long length) throws IOException {
        call(state -> {
            int rc = (int) FTRUNCATE.invokeExact(state, fd, length);
            if (rc != 0) throw new NativeIOException("ftruncate " + path + " to " + length, errno(state));
            return rc;
        });
    }

    /** Asks the kernel to read the range ahead. Advice only: it cannot change content, so its result is ignored. */
    void willNeed(long offset, long length) throws IOException {
        call(state -> (int) FADVISE.invokeExact(state, fd, offset, length, POSIX_FADV_WILLNEED));
    }

    /**
     * Whether every page of the range is in the page cache right now (dirty ones included), by
     * {@code cachestat}. False when unknown (an older kernel, a seccomp filter): callers then take the
     * path that works either way.
     */
    boolean cached(long offset, long length) throws IOException {
        if (!cachestatWorks || length <= 0) return false;
        long pages = (offset + length - 1) / PAGE - offset / PAGE + 1;
        MemorySegment area = CACHESTAT_AREAS.poll();
        if (area == null) area = Arena.global().allocate(56, 8);
        MemorySegment range = area.asSlice(0, 16), stat = area.asSlice(16, 40);
        try {
            return call(state -> {
                range.set(ValueLayout.JAVA_LONG, 0, offset);
                range.set(ValueLayout.JAVA_LONG, 8, length);
                long rc = (long) SYSCALL4.invokeExact(state, SYS_CACHESTAT, (long) fd, range, stat, 0L);
                if (rc != 0) {
                    int e = errno(state);
                    if (e == ENOSYS || e == EPERM || e == EOPNOTSUPP) cachestatWorks = false; // no kernel support, seccomp: stop asking
                    return false;
                }
                return stat.get(ValueLayout.JAVA_LONG, 0) >= pages;
            });
        } finally {
            CACHESTAT_AREAS.offer(area);
        }
    }

    @Override
    public void close() throws IOException {
        call(state -> {
            int rc = (int) CLOSE.invokeExact(state, fd);
            if (rc != 0) throw new NativeIOException("close " + path, errno(state));
            return rc;
        });
    }

    /**
     * One native call with an errno capture area taken from a small pool (allocating one per call would
     * cost more than the lseek it serves); unwraps {@code invokeExact}'s Throwable. The pool never holds
     * more areas than calls ever ran at once.
     */
    private static <T> T call(NativeCall<T> body) throws IOException {
        MemorySegment state = ERRNO_AREAS.poll();
        if (state == null) state = Arena.global().allocate(CALL_STATE);
        try {
            return body.call(state);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("native call failed", t);
        } finally {
            ERRNO_AREAS.offer(state);
        }
    }

    @FunctionalInterface
    private interface NativeCall<T> {
        T call(MemorySegment errnoState) throws Throwable;
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** A failed system call with its errno, so callers can tell "unsupported" from "disk full". */
    static final class NativeIOException extends IOException {
        final int errno;

        NativeIOException(String what, int errno) {
            super(what + " failed: " + describe(errno));
            this.errno = errno;
        }

        private static String describe(int errno) {
            return switch (errno) {
                case ENOSPC -> "No space left on device (ENOSPC)";
                case EOPNOTSUPP -> "Operation not supported (EOPNOTSUPP)";
                case 2 -> "No such file or directory (ENOENT)";
                case 13 -> "Permission denied (EACCES)";
                case 5 -> "Input/output error (EIO)";
                case 22 -> "Invalid argument (EINVAL)";
                default -> "errno " + errno;
            };
        }
    }
}
