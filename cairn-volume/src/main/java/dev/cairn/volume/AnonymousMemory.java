package dev.cairn.volume;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;

/**
 * Memory straight from the kernel for the saved pages of copy-before-write: anonymous mappings aligned
 * to 2 MiB and marked {@code MADV_HUGEPAGE}, so that the first write into a region faults in one 2 MiB
 * page instead of 512 small ones, and nothing is cleared twice ({@code allocateDirect} clears the memory
 * it gets, touching every page at once; a fresh mapping reads as zeros already). Measured on the test
 * VM (transparent huge pages on {@code madvise}): the first touch of 1 GiB took 0.85 s in 4 KiB pages
 * and 0.16 s in huge pages; the writers during a capture spent most of their copy-before-write time in
 * those faults. Where huge pages are off the hint changes nothing.
 *
 * <p>Mappings are never unmapped: their owner keeps them for the life of the process. Where the calls
 * are not available (not Linux, native access refused), {@code ByteBuffer.allocateDirect} serves.
 */
final class AnonymousMemory {
    static final int HUGE_PAGE = 2 << 20;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1;
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        } catch (RuntimeException | LinkageError e) {
            mmap = null; // not Linux, or native access refused: allocateDirect
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    private AnonymousMemory() {}

    /** True when memory comes from {@code mmap}; false when from {@code allocateDirect}. */
    static boolean mapped() {
        return MMAP != null;
    }

    /**
     * {@code bytes} (a whole number of {@link #HUGE_PAGE}s) of memory reading as zeros, as a direct buffer.
     *
     * @throws OutOfMemoryError if the kernel refuses the mapping
     */
    static ByteBuffer allocate(int bytes) {
        if (bytes <= 0 || bytes % HUGE_PAGE != 0) throw new IllegalArgumentException(bytes + " bytes is not a whole number of 2 MiB pages");
        if (MMAP == null) return ByteBuffer.allocateDirect(bytes);
        try {
            long span = (long) bytes + HUGE_PAGE; // room to start on a 2 MiB boundary; the rest is unmapped again
            long at = ((MemorySegment) MMAP.invokeExact(MemorySegment.NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L)).address();
            if (at == MAP_FAILED) throw new OutOfMemoryError("mmap of " + span + " bytes refused");
            long start = (at + HUGE_PAGE - 1) & -HUGE_PAGE;
            if (start > at) unmap(at, start - at);
            if (at + span > start + bytes) unmap(start + bytes, at + span - (start + bytes));
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), (long) bytes, MADV_HUGEPAGE); // a hint
            return MemorySegment.ofAddress(start).reinterpret(bytes).asByteBuffer();
        } catch (OutOfMemoryError e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("mmap through the FFM API failed", e);
        }
    }

    private static void unmap(long address, long length) throws Throwable {
        int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length); // only the unused ends: a failure leaves them mapped, untouched
    }
}
