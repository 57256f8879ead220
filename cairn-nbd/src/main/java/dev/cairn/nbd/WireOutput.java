package dev.cairn.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serialised writes to the client. Messages never interleave: each one's buffers go on the wire back to
 * back. Two ways in:
 * <ul>
 *   <li>{@link #send} (handshake): writes at once, on the calling thread.</li>
 *   <li>{@link #submit} (transmission replies): queues the message; whichever thread finds the writer
 *       free becomes the writer and puts <em>every</em> queued message on the wire with one gathering
 *       write, then tells each message's {@link Written} callback. Request threads therefore never wait
 *       for each other to write (no lock convoy), and under load many replies share one system call.</li>
 * </ul>
 *
 * <p>A message may also carry {@link Transfer}s: parts it writes itself, straight to the channel, after
 * the buffers queued before them (a large READ's data, sent from the page cache with sendfile).
 *
 * <p><b>What it keeps true.</b> Every submitted message's callback runs exactly once, after its bytes
 * were written ({@code true}) or once they never will be ({@code false}: the connection failed). The
 * callback is where buffers and in-flight slots are released, so a client that stops reading stalls
 * its own connection only. No message waits in the queue while no thread is writing: a submitter that
 * cannot take the writer role has enqueued before the current writer's final check of the queue.
 *
 * <p><b>Threads.</b> Thread-safe. Callbacks run on whichever thread did the write; they must be quick
 * and must not call back into this class.
 */
final class WireOutput {
    /** Told whether a submitted message reached the socket. */
    interface Written {
        void written(boolean ok);
    }

    /** Part of a message that writes itself to the channel, e.g. file data with sendfile. Runs in the writer role. */
    interface Transfer {
        void writeTo(WritableByteChannel channel) throws IOException;
    }

    /** {@code transfers} is null, or as long as {@code parts}: {@code transfers[i]}, if set, goes right after {@code parts[i]}. */
    private record Message(ByteBuffer[] parts, Transfer[] transfers, Written done) {}

    /** Cap on buffers per gathering write (Linux IOV_MAX is 1024). */
    private static final int MAX_PARTS = 1024;

    private final WritableByteChannel channel;
    private final GatheringByteChannel gathering;
    private final ReentrantLock writer = new ReentrantLock();
    private final ConcurrentLinkedQueue<Message> queue = new ConcurrentLinkedQueue<>();
    private volatile IOException broken;

    WireOutput(WritableByteChannel channel) {
        this.channel = channel;
        this.gathering = channel instanceof GatheringByteChannel g ? g : null;
    }

    /** Writes {@code parts} now, as one unit, on this thread. */
    void send(ByteBuffer... parts) throws IOException {
        writer.lock();
        try {
            failIfBroken();
            try {
                write(parts, parts.length);
            } catch (IOException | RuntimeException e) {
                broken = e instanceof IOException io ? io : new IOException(e);
                throw e;
            }
        } finally {
            writer.unlock();
        }
        drain(); // a reply may have been queued meanwhile (not in practice: send is for the handshake)
    }

    /** Queues a message and writes the queue if no other thread is writing. Never throws. */
    void submit(ByteBuffer[] parts, Written done) {
        submit(parts, null, done);
    }

    /**
     * Like {@link #submit(ByteBuffer[], Written)}, with {@code transfers[i]} (where set) written right
     * after {@code parts[i]}. A transfer that throws breaks the connection: its message is incomplete.
     */
    void submit(ByteBuffer[] parts, Transfer[] transfers, Written done) {
        if (transfers != null && transfers.length != parts.length) throw new IllegalArgumentException("one transfer slot per part");
        if (broken != null) {
            done.written(false);
            return;
        }
        queue.add(new Message(parts, transfers, done));
        drain();
    }

    /** Whether transfers write straight into a socket (where sendfile works), not some other channel. */
    boolean socket() {
        return channel instanceof SocketChannel;
    }

    boolean broken() {
        return broken != null;
    }

    private void drain() {
        List<Message> batch = new ArrayList<>();
        do {
            if (!writer.tryLock()) return; // the writer will see our message: it re-checks after unlocking
            try {
                Message m;
                while ((m = queue.poll()) != null) {
                    batch.add(m);
                    int parts = m.parts.length;
                    Message next;
                    while ((next = queue.peek()) != null && parts + next.parts.length <= MAX_PARTS && batch.size() < 256) {
                        batch.add(queue.poll());
                        parts += next.parts.length;
                    }
                    writeBatch(batch, parts);
                    batch.clear();
                }
            } finally {
                writer.unlock();
            }
        } while (!queue.isEmpty());
    }

    /** Writes one batch and runs its callbacks; on failure, fails the batch and everything queued. */
    private void writeBatch(List<Message> batch, int partCount) {
        boolean ok;
        if (broken != null) {
            ok = false;
        } else {
            ByteBuffer[] all;
            if (batch.size() == 1 && batch.getFirst().transfers == null) {
                all = batch.getFirst().parts;
            } else {
                all = new ByteBuffer[partCount];
                int i = 0;
                for (Message m : batch) {
                    System.arraycopy(m.parts, 0, all, i, m.parts.length);
                    i += m.parts.length;
                }
            }
            try {
                if (hasTransfers(batch)) writeWithTransfers(batch, all, partCount); else write(all, partCount);
                ok = true;
            } catch (IOException | RuntimeException e) {
                broken = e instanceof IOException io ? io : new IOException(e);
                ok = false;
            }
        }
        for (Message m : batch) m.done.written(ok);
        if (!ok) {
            Message m;
            while ((m = queue.poll()) != null) m.done.written(false);
        }
    }

    private static boolean hasTransfers(List<Message> batch) {
        for (Message m : batch) {
            if (m.transfers != null) return true;
        }
        return false;
    }

    /** Gathering writes of the buffers between transfers, each transfer in its place. */
    private void writeWithTransfers(List<Message> batch, ByteBuffer[] all, int partCount) throws IOException {
        int from = 0, i = 0;
        for (Message m : batch) {
            for (int k = 0; k < m.parts.length; k++, i++) {
                Transfer t = m.transfers == null ? null : m.transfers[k];
                if (t == null) continue;
                write(all, from, i + 1 - from);
                from = i + 1;
                t.writeTo(channel);
            }
        }
        write(all, from, partCount - from);
    }

    private void write(ByteBuffer[] parts, int count) throws IOException {
        write(parts, 0, count);
    }

    /** Writes {@code parts[offset .. offset + count)} completely. */
    private void write(ByteBuffer[] parts, int offset, int count) throws IOException {
        int end = offset + count;
        if (gathering != null) {
            long left = 0;
            for (int i = offset; i < end; i++) left += parts[i].remaining();
            int first = offset;
            while (left > 0) {
                while (!parts[first].hasRemaining()) first++;
                left -= gathering.write(parts, first, end - first);
            }
        } else {
            for (int i = offset; i < end; i++) {
                while (parts[i].hasRemaining()) channel.write(parts[i]);
            }
        }
    }

    private void failIfBroken() throws IOException {
        IOException failed = broken;
        if (failed != null) throw new IOException("connection already failed", failed);
    }
}
