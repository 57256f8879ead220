package dev.cairn.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * A volume that passes every call to another: extend it and override the calls that differ (an export
 * that ends a pin on close, a test's volume that holds a read). Only the interface's abstract methods
 * are passed on; its default methods ({@link #readBulk}, {@link #transfer}) keep their defaults, which
 * go through {@link #read}, so an override of {@code read} sees every read.
 */
public abstract class ForwardingVolume implements Volume {
    protected final Volume inner;

    protected ForwardingVolume(Volume inner) {
        this.inner = inner;
    }

    @Override public long size() { return inner.size(); }
    @Override public boolean readOnly() { return inner.readOnly(); }
    @Override public void read(long offset, ByteBuffer dst) throws IOException { inner.read(offset, dst); }
    @Override public void write(long offset, ByteBuffer src, boolean fua) throws IOException { inner.write(offset, src, fua); }
    @Override public void flush() throws IOException { inner.flush(); }
    @Override public void trim(long offset, long length, boolean fua) throws IOException { inner.trim(offset, length, fua); }
    @Override public void writeZeroes(long offset, long length, boolean mayPunch, boolean fua) throws IOException { inner.writeZeroes(offset, length, mayPunch, fua); }
    @Override public boolean fastZero(boolean mayPunch) { return inner.fastZero(mayPunch); }
    @Override public void prefetch(long offset, long length) throws IOException { inner.prefetch(offset, length); }
    @Override public List<Extent> extents(long offset, long length) throws IOException { return inner.extents(offset, length); }
    @Override public void resize(long newSize) throws IOException { inner.resize(newSize); }
    @Override public void close() throws IOException { inner.close(); }
}
