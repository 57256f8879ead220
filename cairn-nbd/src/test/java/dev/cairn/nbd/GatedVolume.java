package dev.cairn.nbd;

import dev.cairn.volume.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Wraps a volume; a READ at {@link #gatedOffset} announces itself and blocks until {@link #open()}. */
final class GatedVolume implements Volume {
    private final Volume inner;
    final long gatedOffset;
    final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch gate = new CountDownLatch(1);

    GatedVolume(Volume inner, long gatedOffset) {
        this.inner = inner;
        this.gatedOffset = gatedOffset;
    }

    void open() { gate.countDown(); }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (offset == gatedOffset) {
            entered.countDown();
            try {
                if (!gate.await(30, TimeUnit.SECONDS)) throw new IOException("gate never opened");
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        }
        inner.read(offset, dst);
    }

    @Override public long size() { return inner.size(); }
    @Override public boolean readOnly() { return inner.readOnly(); }
    @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException { inner.write(offset, src, fua); }
    @Override public void flush() throws IOException { inner.flush(); }
    @Override public void trim(long offset, long length, boolean fua) throws IOException { inner.trim(offset, length, fua); }
    @Override public void writeZeroes(long o, long l, boolean p, boolean f) throws IOException { inner.writeZeroes(o, l, p, f); }
    @Override public boolean fastZero(boolean mayPunch) { return inner.fastZero(mayPunch); }
    @Override public void prefetch(long offset, long length) throws IOException { inner.prefetch(offset, length); }
    @Override public List<Extent> extents(long offset, long length) throws IOException { return inner.extents(offset, length); }
    @Override public void resize(long newSize) throws IOException { inner.resize(newSize); }
    @Override public void close() throws IOException { inner.close(); }
}
