package dev.cairn.nbd;

import dev.cairn.volume.SparseFileVolume;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Protocol conformance through libnbd's Python shell: every script asserts inside Python and the test
 * checks the exit code (test matrix rows for nbdsh). Each test uses its own region of the disk.
 */
class NbdshTest {
    private static final long SIZE = 64 << 20;
    @TempDir static Path dir;
    static TestServer server;
    static String disk;
    static String snap;

    @BeforeAll
    static void start() throws Exception {
        TestExports exports = new TestExports();
        exports.addFile(dir, "disk", SIZE);
        try (SparseFileVolume s = SparseFileVolume.create(dir.resolve("snap.raw"), 1 << 20)) {
            s.write(0, ByteBuffer.wrap(NbdConnectionTest.filled(4096, 0x11)), true);
        }
        exports.addReadOnlyFile(dir.resolve("snap.raw"), "snap");
        server = TestServer.start(exports);
        disk = server.uri("disk");
        snap = server.uri("snap");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        server.awaitQuiet();
        server.exports.close();
    }

    /** Runs a Python script (the handle {@code h} exists; connect in the script); fails with its output unless it exits 0. */
    private static String script(String... lines) {
        Tools.Result r = Tools.nbdsh(null, String.join("\n", lines));
        if (r.exit() != 0) fail("nbdsh script failed: " + r.describe());
        return r.out();
    }

    @Test
    void simpleRepliesOnly() {
        script("h.set_request_structured_replies(False)",
                "h.connect_uri('" + disk + "')",
                "assert not h.get_structured_replies_negotiated()",
                "assert h.pread(4096, 0) == bytes(4096)",
                "h.pwrite(b'simple' * 100, 8 << 20)",
                "assert h.pread(600, 8 << 20) == b'simple' * 100",
                "assert not h.can_df()",
                "h.shutdown()");
    }

    @Test
    void optionModeAbort() {
        script("h.set_opt_mode(True)", "h.connect_uri('" + disk + "')", "h.opt_abort()", "assert h.aio_is_closed()");
    }

    @Test
    void infoThenGo() {
        String out = script("h.set_opt_mode(True)", "h.connect_uri('" + disk + "')", "h.opt_info()", "print(h.get_size())",
                "assert h.can_multi_conn()", "h.opt_go()", "print(h.get_size())", "assert h.pread(512, 0) == bytes(512)");
        assertThat(out.lines().toList()).containsExactly(String.valueOf(SIZE), String.valueOf(SIZE));
    }

    @Test
    void optionModeListAndMetaContexts() {
        String out = script("h.set_opt_mode(True)", "h.connect_uri('" + disk + "')",
                "h.opt_list(lambda n, d: print('export', n, d))",
                "h.opt_list_meta_context(lambda n: print('context', n))",
                "h.opt_abort()");
        assertThat(out).contains("export disk test disk disk", "export snap read-only snap", "context base:allocation");
    }

    @Test
    void readWriteZeroTrimFlushCacheFua() {
        script("import nbd",
                "h.add_meta_context('base:allocation')",
                "h.connect_uri('" + disk + "')",
                "base = 16 << 20",
                "h.pwrite(b'\\xab' * 65536, base)",
                "assert h.pread(65536, base) == b'\\xab' * 65536",
                "h.pwrite(b'x' * 512, base, nbd.CMD_FLAG_FUA)",
                "assert h.pread(512, base) == b'x' * 512",
                "h.zero(4096, base, nbd.CMD_FLAG_NO_HOLE)",
                "assert h.pread(4096, base) == bytes(4096)",
                "h.zero(1 << 20, base + (1 << 20), nbd.CMD_FLAG_FAST_ZERO)",
                "h.zero(8192, base + 8192)",
                "h.trim(1 << 20, base + (2 << 20))",
                "h.trim(4096, base + 16384, nbd.CMD_FLAG_FUA)",
                "assert h.pread(65536, base) == bytes(4096) + b'\\xab' * 4096 + bytes(12288) + b'\\xab' * (65536 - 20480)",
                "h.flush()",
                "h.cache(1 << 20, 0)",
                "seen = []",
                "h.block_status(65536, base, lambda ctx, off, ents, err: seen.extend(ents))",
                "assert len(seen) >= 2 and seen[1] in (0, 2, 3), seen",
                "assert sum(seen[0::2]) >= 65536, seen",
                "h.shutdown()");
    }

    @Test
    void dfReadIsOneChunk() {
        script("import nbd",
                "h.connect_uri('" + disk + "')",
                "chunks = []",
                "buf = h.pread_structured(65536, 0, lambda buf, off, status, err: chunks.append((off, status, len(buf))), nbd.CMD_FLAG_DF)",
                "assert chunks == [(0, nbd.READ_DATA, 65536)], chunks",
                "chunks.clear()",
                "h.pread_structured(65536, 32 << 20, lambda buf, off, status, err: chunks.append((off, status)))",
                "assert chunks == [(32 << 20, nbd.READ_HOLE)], chunks");
    }

    @Test
    void outOfRangeReadIsEinvalAndWriteIsEnospc() {
        script("import nbd, errno",
                "h.connect_uri('" + disk + "')",
                "h.set_strict_mode(0)",
                "try:\n    h.pread(512, h.get_size())\n    raise SystemExit('read past the end succeeded')\n"
                        + "except nbd.Error as e:\n    assert e.errnum == errno.EINVAL, e",
                "try:\n    h.pwrite(b'x' * 512, h.get_size())\n    raise SystemExit('write past the end succeeded')\n"
                        + "except nbd.Error as e:\n    assert e.errnum == errno.ENOSPC, e\n    assert 'No space left on device' in str(e), e",
                "assert h.pread(512, 0) == bytes(512)");
    }

    @Test
    void oversizedReadIsRefusedAndTheConnectionKeepsWorking() {
        script("import nbd, errno",
                "h.connect_uri('" + disk + "')",
                "h.set_strict_mode(0)",
                "try:\n    h.pread(48 << 20, 0)\n    raise SystemExit('48 MiB read succeeded')\n"
                        + "except nbd.Error as e:\n    assert e.errnum == errno.EINVAL, e",
                "assert h.pread(512, 0) == bytes(512)",
                "h.pwrite(b'y' * (32 << 20), 0)",
                "assert h.pread(32 << 20, 0) == b'y' * (32 << 20)",
                "h.trim(32 << 20, 0)");
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm() {
        script("import nbd, errno",
                "h.connect_uri('" + snap + "')",
                "assert h.is_read_only()",
                "assert not h.can_trim() and not h.can_zero() and not h.can_fua()",
                "assert h.pread(4096, 0) == b'\\x11' * 4096",
                "h.set_strict_mode(0)",
                "for op in (lambda: h.pwrite(b'x' * 512, 0), lambda: h.trim(512, 0), lambda: h.zero(512, 0)):\n"
                        + "    try:\n        op()\n        raise SystemExit('write to read-only export succeeded')\n"
                        + "    except nbd.Error as e:\n        assert e.errnum == errno.EPERM, e",
                "h.flush()",
                "assert h.pread(4096, 0) == b'\\x11' * 4096");
    }

    @Test
    void manyRequestsInFlightCompleteOutOfOrder() {
        script("import nbd",
                "h.connect_uri('" + disk + "')",
                "base = 40 << 20",
                "bufs = [nbd.Buffer.from_bytearray(bytearray([i]) * 4096) for i in range(64)]",
                "cookies = [h.aio_pwrite(bufs[i], base + i * 4096) for i in range(64)]",
                "while h.aio_in_flight() > 0: h.poll(-1)",
                "assert all(h.aio_command_completed(c) for c in cookies)",
                "reads = [(i, nbd.Buffer(4096)) for i in range(64)]",
                "rc = [h.aio_pread(b, base + i * 4096) for i, b in reads]",
                "while h.aio_in_flight() > 0: h.poll(-1)",
                "assert all(b.to_bytearray() == bytearray([i]) * 4096 for i, b in reads)");
    }
}
