package dev.cairn.nbd;

import dev.cairn.volume.ForwardingVolume;
import dev.cairn.volume.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Wraps a volume; a READ at {@link #gatedOffset} announces itself and blocks until {@link #open()}. */
final class GatedVolume extends ForwardingVolume {
    final long gatedOffset;
    final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch gate = new CountDownLatch(1);

    GatedVolume(Volume inner, long gatedOffset) {
        super(inner);
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
}
