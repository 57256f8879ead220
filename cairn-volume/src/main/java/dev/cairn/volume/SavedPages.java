package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where one capture keeps the old bytes of the pages that changes overwrote before the capture read
 * them (copy-before-write): in memory while the process-wide {@link Budget} has room, else in a spill
 * file at the pages' own offsets. Memory first because the writers pay for every saved page on their
 * own request path, and a page kept in memory costs them no system call, no page-cache page and no
 * file-system allocation (measured: docs/benchmarks.md, "Where the writers' loss goes").
 *
 * <p>That memory is outside the heap, in 4 KiB pages of 2 MiB slabs that the {@link Budget} keeps
 * and hands out again. On the heap, each young collection under a heavy writer copied the pages still
 * waiting (250–350 MiB), and those 20–33 ms pauses stopped every request, {@code CreateSnapshot}
 * included. Slabs are kept, not freed, because fresh memory is what costs here: a new slab per capture
 * spent 16% of both cores in first-touch page faults and cost the writers a third of their speed
 * (docs/benchmarks.md, "Saved pages off the heap"). For the same reason a slab is a huge page where the
 * kernel allows ({@link AnonymousMemory}): the first capture of a fresh server makes its slabs as
 * the writers need them.
 *
 * <p>Invariants: a page is saved at most once (the caller's bitmap says which are saved) and read at
 * most once ({@link #read} takes it out); whoever takes a page out of memory gives it and its bytes
 * back to the budget, so {@link #close} after a failed capture frees what the reads did not. The spill file is
 * opened on first use and deleted when closed.
 */
final class SavedPages implements AutoCloseable {
    /** Copy-before-write unit: a page (a page at the disk's end may be shorter). */
    static final int PAGE = 4096;

    /** Pages per slab: one huge page. */
    static final int SLAB_PAGES = AnonymousMemory.HUGE_PAGE / PAGE;

    /**
     * Bytes of saved pages all captures of the process may hold in memory together, and the pages
     * themselves: slabs once made stay with the budget (at most its limit, plus a slab per thread that
     * made one at the same moment) and go from capture to capture.
     */
    static final class Budget {
        /**
         * The server's: {@code -Dcairn.cowMemoryMiB}, default a quarter of the heap's maximum (1.5 GiB with
         * the JVM's default heap on a 24 GiB machine). Random writers during a paced capture of a 2 GiB disk
         * kept 0.59–0.62× of their speed with 768 MiB, 0.68× with 1.5 GiB and 0.70× with 4 GiB.
         */
        static final Budget PROCESS = new Budget(Long.getLong("cairn.cowMemoryMiB", Runtime.getRuntime().maxMemory() >> 22) << 20);

        private final long limit;
        /** Makes a slab of the given size; throws {@link OutOfMemoryError} when the kernel has no memory for it. */
        private final java.util.function.IntFunction<ByteBuffer> slabs;
        private final AtomicLong used = new AtomicLong();
        private final ArrayDeque<ByteBuffer> freePages = new ArrayDeque<>(); // guarded by itself

        Budget(long limitBytes) {
            this(limitBytes, AnonymousMemory::allocate);
        }

        Budget(long limitBytes, java.util.function.IntFunction<ByteBuffer> slabs) {
            this.limit = limitBytes;
            this.slabs = slabs;
        }

        boolean tryTake(long bytes) {
            long u;
            do {
                u = used.get();
                if (u + bytes > limit) return false;
            } while (!used.compareAndSet(u, u + bytes));
            return true;
        }

        void giveBack(long bytes) {
            used.addAndGet(-bytes);
        }

        long used() {
            return used.get();
        }

        /**
         * {@code count} pages of 4 KiB, cleared (give each back with {@link #givePage}); null, taking
         * none, if the kernel has no memory for them.
         */
        ByteBuffer[] takePages(int count) {
            ByteBuffer[] pages = new ByteBuffer[count];
            try {
                for (int k = 0; k < count; k++) pages[k] = takePage();
                return pages;
            } catch (OutOfMemoryError noNativeMemory) {
                for (ByteBuffer p : pages) if (p != null) givePage(p);
                return null;
            }
        }

        private ByteBuffer takePage() {
            synchronized (freePages) {
                ByteBuffer page = freePages.poll();
                if (page != null) return page.clear();
            }
            ByteBuffer slab = slabs.apply(SLAB_PAGES * PAGE); // outside the lock: a system call
            synchronized (freePages) {
                for (int i = 1; i < SLAB_PAGES; i++) freePages.push(slab.slice(i * PAGE, PAGE));
            }
            return slab.slice(0, PAGE);
        }

        /** {@code count} whole pages counted against the limit, or null (none taken) if it or the kernel has no room. */
        ByteBuffer[] takeWithin(int count) {
            if (!tryTake((long) count * PAGE)) return null;
            ByteBuffer[] pages = takePages(count);
            if (pages == null) giveBack((long) count * PAGE);
            return pages;
        }

        /** Gives back a whole page from {@link #takeWithin}. */
        void release(ByteBuffer page) {
            giveBack(PAGE);
            givePage(page);
        }

        void givePage(ByteBuffer page) {
            synchronized (freePages) {
                freePages.push(page);
            }
        }

        /** Bytes of pages made and not in use now. */
        long freePageBytes() {
            synchronized (freePages) {
                return (long) freePages.size() * PAGE;
            }
        }
    }

    private final Path spillFile;
    private final Budget budget;
    /** Page offset → its old bytes, in a page of the budget's. */
    private final ConcurrentHashMap<Long, ByteBuffer> inMemory = new ConcurrentHashMap<>();
    private FileChannel spill; // guarded by this
    private final AtomicLong bytesToFile = new AtomicLong();

    SavedPages(Path spillFile, Budget budget) {
        this.spillFile = spillFile;
        this.budget = budget;
    }

    /** Keeps a copy of {@code bytes} (whole pages from page offset {@code pos}, the last one maybe short). */
    void save(long pos, ByteBuffer bytes) throws IOException {
        int length = bytes.remaining();
        if (budget.tryTake(length)) {
            ByteBuffer[] pages = budget.takePages((length + PAGE - 1) / PAGE);
            if (pages != null) {
                for (int k = 0; k < pages.length; k++) {
                    int i = k * PAGE;
                    inMemory.put(pos + i, pages[k].put(bytes.slice(bytes.position() + i, Math.min(PAGE, length - i))).flip());
                }
                return;
            }
            budget.giveBack(length); // no native memory: the spill file takes them
        }
        FileChannel ch = spill();
        bytesToFile.addAndGet(length);
        ByteBuffer src = bytes.duplicate();
        while (src.hasRemaining()) pos += ch.write(src, pos);
    }

    /** Fills {@code dst} with the saved pages from page offset {@code pos} on, and forgets them. */
    void read(long pos, ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            ByteBuffer page = inMemory.remove(pos);
            int n;
            if (page != null) {
                n = page.remaining();
                dst.put(page);
                budget.givePage(page);
                budget.giveBack(n);
            } else {
                ByteBuffer part = dst.duplicate();
                part.limit(part.position() + Math.min(PAGE, dst.remaining()));
                n = part.remaining();
                readSpill(pos, part);
                dst.position(dst.position() + n);
            }
            pos += n;
        }
    }

    private synchronized FileChannel spill() throws IOException {
        if (spill == null) {
            spill = FileChannel.open(spillFile, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE);
        }
        return spill;
    }

    private void readSpill(long pos, ByteBuffer dst) throws IOException {
        FileChannel ch;
        synchronized (this) {
            ch = spill;
        }
        if (ch == null) throw new IOException("no saved page at offset " + pos + " (" + spillFile + " was never written)");
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) throw new IOException(spillFile + " is short at offset " + pos);
            pos += n;
        }
    }

    /** Bytes saved to the spill file so far (the memory budget was full). */
    long bytesToFile() {
        return bytesToFile.get();
    }

    /** Frees the memory still held and deletes the spill file. Idempotent. */
    @Override
    public void close() {
        for (Long pos : inMemory.keySet()) {
            ByteBuffer page = inMemory.remove(pos);
            if (page != null) {
                budget.giveBack(page.remaining());
                budget.givePage(page);
            }
        }
        FileChannel ch;
        synchronized (this) {
            ch = spill;
            spill = null;
        }
        // The file is unlinked already (DELETE_ON_CLOSE); closing the last descriptor frees its pages and
        // blocks, which took 5-8 s for 400-800 MiB under load: not on the capture's thread.
        if (ch != null) Thread.ofVirtual().name("cow-close").start(() -> {
            try {
                ch.close();
            } catch (IOException ignored) {
                // the file is gone either way; nothing was promised about it
            }
        });
    }
}
