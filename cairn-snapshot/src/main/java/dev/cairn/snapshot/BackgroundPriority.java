package dev.cairn.snapshot;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Lowers the CPU priority of the calling thread (Linux {@code setpriority} on its thread id), so
 * background work — a capture hashing and compressing, a flatten — uses the cores the disks' own I/O
 * leaves idle and yields them when writers need them. Lowering needs no privilege. Where it cannot be
 * done (another OS, native access refused) it does nothing: the work still runs, only less politely.
 */
final class BackgroundPriority {
    /** Nice value for background threads (default 10: a tenth of a normal thread's CPU share when both want it; 0 turns it off). */
    static final int NICE = Integer.getInteger("cairn.backgroundNice", 10);
    private static final long SYS_GETTID = 186; // x86-64
    private static final int PRIO_PROCESS = 0;
    private static final MethodHandle SYSCALL;
    private static final MethodHandle SETPRIORITY;

    static {
        MethodHandle syscall = null, setpriority = null;
        try {
            if ("amd64".equals(System.getProperty("os.arch")) && "Linux".equals(System.getProperty("os.name"))) {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                syscall = linker.downcallHandle(libc.find("syscall").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), Linker.Option.firstVariadicArg(1));
                setpriority = linker.downcallHandle(libc.find("setpriority").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            }
        } catch (RuntimeException | LinkageError e) {
            syscall = null;
        }
        SYSCALL = syscall;
        SETPRIORITY = setpriority;
    }

    private BackgroundPriority() {}

    /** Lowers the calling (platform) thread to {@link #NICE}; true if it took effect. */
    static boolean lowerCurrentThread() {
        if (SYSCALL == null || NICE == 0 || Thread.currentThread().isVirtual()) return false;
        try {
            int tid = (int) (long) SYSCALL.invokeExact(SYS_GETTID);
            return (int) SETPRIORITY.invokeExact(PRIO_PROCESS, tid, NICE) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
