package dev.cairn.volume;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SavedPagesTest {

    @TempDir Path dir;

    private static ByteBuffer pages(long pos, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte) ((pos + i) * 31 + (pos + i) / 4096);
        return ByteBuffer.wrap(b);
    }

    private static void assertReads(SavedPages saved, long pos, int length) throws Exception {
        ByteBuffer dst = ByteBuffer.allocate(length);
        saved.read(pos, dst);
        assertThat(dst.hasRemaining()).isFalse();
        assertThat(Arrays.equals(dst.array(), pages(pos, length).array())).as("bytes at %d", pos).isTrue();
    }

    @Test
    void pagesComeBackAsSavedAndTheBudgetReturns() throws Exception {
        var budget = new SavedPages.Budget(1L << 30);
        int n = 300; // more than a slab
        try (SavedPages saved = new SavedPages(dir.resolve("d.cow"), budget)) {
            for (int i = 0; i < n; i++) saved.save(i * 8192L, pages(i * 8192L, 4096));
            assertThat(budget.used()).isEqualTo(n * 4096L);
            for (int i = 0; i < n; i += 2) assertReads(saved, i * 8192L, 4096); // half, then more saved
            long later = 1L << 40;
            for (int i = 0; i < n; i++) saved.save(later + i * 4096L, pages(later + i * 4096L, 4096));
            for (int i = 1; i < n; i += 2) assertReads(saved, i * 8192L, 4096);
            assertReads(saved, later, n * 4096); // consecutive pages into one buffer
            assertThat(budget.used()).isZero();
        }
        long made = budget.freePageBytes();
        assertThat(made).as("slabs made for at most the pages held at once").isBetween(n * 3 / 2 * 4096L, (n * 3 / 2 + 2 * SavedPages.SLAB_PAGES) * 4096L);
        try (SavedPages next = new SavedPages(dir.resolve("e.cow"), budget)) { // the next capture reuses them
            for (int i = 0; i < n; i++) next.save(i * 4096L, pages(i * 4096L, 4096));
            assertThat(budget.freePageBytes()).isEqualTo(made - n * 4096L);
            assertReads(next, 0, n * 4096);
        }
        assertThat(budget.freePageBytes()).isEqualTo(made);
    }

    @Test
    void theCallersBufferIsCopiedNotKept() throws Exception {
        var budget = new SavedPages.Budget(1L << 30);
        try (SavedPages saved = new SavedPages(dir.resolve("d.cow"), budget)) {
            ByteBuffer mine = pages(0, 4096);
            saved.save(0, mine);
            mine.put(0, (byte) (mine.get(0) + 1)); // the caller reuses its buffer
            assertReads(saved, 0, 4096);
        }
    }

    @Test
    void aShortLastPageAndSeveralPagesAtOnce() throws Exception {
        var budget = new SavedPages.Budget(1L << 30);
        try (SavedPages saved = new SavedPages(dir.resolve("d.cow"), budget)) {
            saved.save(4096, pages(4096, 3 * 4096 + 100)); // three pages and a short one
            assertThat(budget.used()).isEqualTo(3 * 4096 + 100);
            assertReads(saved, 4096, 3 * 4096 + 100);
            assertThat(budget.used()).isZero();
        }
    }

    @Test
    void closeGivesBackWhatWasNotRead() throws Exception {
        var budget = new SavedPages.Budget(1L << 30);
        SavedPages saved = new SavedPages(dir.resolve("d.cow"), budget);
        for (int i = 0; i < 5; i++) saved.save(i * 4096L, pages(i * 4096L, 4096));
        assertReads(saved, 0, 4096);
        saved.close();
        assertThat(budget.used()).isZero();
    }

    @Test
    void pagesOverTheBudgetGoToTheSpillFile() throws Exception {
        var budget = new SavedPages.Budget(2 * 4096);
        try (SavedPages saved = new SavedPages(dir.resolve("d.cow"), budget)) {
            for (int i = 0; i < 4; i++) saved.save(i * 4096L, pages(i * 4096L, 4096));
            assertThat(saved.bytesToFile()).isEqualTo(2 * 4096);
            assertReads(saved, 0, 4 * 4096);
            assertThat(budget.used()).isZero();
        }
    }

    @Test
    void withoutNativeMemoryPagesGoToTheSpillFileAndTheBudgetIsNotCharged() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean refuse = new java.util.concurrent.atomic.AtomicBoolean(true);
        var budget = new SavedPages.Budget(1L << 30, bytes -> {
            if (refuse.get()) throw new OutOfMemoryError("mmap refused (test)");
            return ByteBuffer.allocateDirect(bytes);
        });
        try (SavedPages saved = new SavedPages(dir.resolve("d.cow"), budget)) {
            for (int i = 0; i < 3; i++) saved.save(i * 4096L, pages(i * 4096L, 4096));
            assertThat(saved.bytesToFile()).as("all to the file").isEqualTo(3 * 4096);
            assertThat(budget.used()).as("what could not be taken is given back").isZero();
            assertThat(budget.takeWithin(2)).as("holding writes is refused too").isNull();
            assertThat(budget.used()).isZero();
            refuse.set(false); // memory again: the next pages stay in memory
            saved.save(3 * 4096L, pages(3 * 4096L, 4096));
            assertThat(saved.bytesToFile()).isEqualTo(3 * 4096);
            assertThat(budget.used()).isEqualTo(4096);
            assertReads(saved, 0, 4 * 4096);
            assertThat(budget.used()).isZero();
        }
    }
}
