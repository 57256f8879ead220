package dev.cairn.repository.backend.local;

import dev.cairn.repository.backend.Backend;
import dev.cairn.repository.backend.BackendFullException;
import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A repository in a local directory: one file per object, laid out as {@code docs/repository-format.md}
 * §2 says ({@code chunks/<4 hex>/<id>} like PBS's {@code .chunks}).
 *
 * <p><b>What stays true.</b> A file under an object's name is complete and synced: a put writes a temp
 * file {@code <name>.tmp-<16 hex>} in the final directory, syncs it, then {@code link(2)}s it to the
 * final name — which fails if the name exists, so put-if-absent is atomic and never replaces — syncs
 * the directory and removes the temp name (restic's write-then-rename, with link for no-replace). A
 * crash at any line leaves at most a temp file; nothing lists, reads or counts temp files, and
 * {@link #open} removes them (it holds the directory's lock, so no live put owns them). Deletes sync
 * the directory before returning. New fan-out directories are synced into their parent before an
 * object is placed in them.
 *
 * <p><b>Exclusive.</b> {@link #open} takes an OS lock on {@code <root>/lock} for the backend's life: a
 * second opener, in this process or another, is refused with a clear message.
 *
 * <p><b>Threads.</b> All methods are thread-safe; puts of different keys proceed in parallel (and share
 * the file system's journal commits, which is what makes parallel captures faster here).
 *
 * <p><b>Errors.</b> {@code ENOSPC}/{@code EDQUOT} become {@link BackendFullException} (never retried);
 * a failed put removes its temp file. On a file system without hard links, puts fall back to an
 * atomic rename, which may replace an existing object with identical bytes (harmless: content
 * addressed); this is detected once at open and logged.
 */
public final class LocalBackend implements Backend {

    private static final Logger log = LoggerFactory.getLogger(LocalBackend.class);
    private static final Pattern TEMP_NAME = Pattern.compile(".+\\.tmp-[0-9a-f]{16}");
    private static final HexFormat HEX = HexFormat.of();

    private final Path root;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final boolean linkSupported;
    /** Directories known to exist and be durable in their parent; saves a stat per put. */
    private final Set<Path> durableDirectories = ConcurrentHashMap.newKeySet();
    /**
     * Directories a batch created without syncing their parent (a directory fsync is a journal commit:
     * one per new chunk directory made captures wait on thousands of them); the batch's commit, whose
     * syncfs covers them, moves them to {@link #durableDirectories}.
     */
    private final Set<Path> batchDirectories = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private LocalBackend(Path root, FileChannel lockChannel, FileLock lock, boolean linkSupported) {
        this.root = root;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.linkSupported = linkSupported;
    }

    /**
     * Opens (creating if needed) a repository directory. Recovery passes, each logged: (1) lock the
     * directory, (2) create the kind directories durably, (3) remove stray temp files a crash left,
     * (4) probe hard-link support.
     *
     * @throws IOException if the directory is in use by another opener, or cannot be created
     */
    public static LocalBackend open(Path root) throws IOException {
        Path dir = root.toAbsolutePath().normalize();
        Files.createDirectories(dir);
        FileChannel channel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new IOException("repository directory " + dir + " is in use by another LocalBackend (lock held on " + dir.resolve("lock") + ")");
        }
        try {
            for (ObjectKind kind : ObjectKind.values()) {
                if (!kind.directory().isEmpty()) createDurably(dir.resolve(kind.directory()));
            }
            int removed = removeTempFiles(dir);
            if (removed > 0) log.info("repository {}: removed {} stray temp file(s) left by an interrupted put", dir, removed);
            boolean link = probeHardLinks(dir);
            if (!link) log.warn("repository {}: file system has no hard links; puts use rename and may replace identical objects", dir);
            return new LocalBackend(dir, channel, lock, link);
        } catch (IOException | RuntimeException e) {
            try {
                lock.release();
                channel.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The repository's root directory. */
    public Path root() {
        return root;
    }

    /** The file an object lives in (for tests and tools; do not write to it). */
    public Path pathOf(ObjectKey key) {
        return root.resolve(key.path());
    }

    @Override
    public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException {
        ensureOpen();
        Path target = pathOf(key);
        if (Files.exists(target)) return false;
        Path dir = target.getParent();
        Path temp = newTemp(target);
        try {
            writeTemp(temp, bytes, true); // data and size on disk before any name points at them
            boolean stored;
            if (linkSupported) {
                try {
                    Files.createLink(target, temp); // fails if the name exists: put-if-absent, atomically
                    stored = true;
                } catch (FileAlreadyExistsException raced) {
                    stored = false; // another put of the same content won; its bytes are equivalent
                }
            } else {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                stored = true;
            }
            if (stored) syncDirectory(dir); // make the new name itself durable
            return stored;
        } catch (IOException e) {
            throw classify(e, "put " + key);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // Safe to ignore: a leftover temp name is never read, listed or counted, and open() removes it.
                log.warn("repository {}: could not remove temp file {}: {}", root, temp, e.toString());
            }
        }
    }

    /**
     * Puts written to temp files without fsync; {@link Batch#commit} makes them durable with one
     * {@code syncfs} (or, where that is not available, an fsync per file), then links each under its
     * name and syncs again so the names are durable too. Before the commit an object is neither
     * visible nor durable; a crash leaves only temp files, which {@link #open} removes. Memory: one
     * entry per uncommitted object.
     */
    @Override
    public Batch batch() {
        return new LocalBatch();
    }

    private final class LocalBatch implements Batch {
        private final java.util.concurrent.ConcurrentHashMap<ObjectKey, Path> pending = new java.util.concurrent.ConcurrentHashMap<>();
        private final Object commitLock = new Object();
        private volatile boolean closed;

        @Override
        public boolean putIfAbsent(ObjectKey key, ByteBuffer bytes) throws IOException {
            ensureOpen();
            if (closed) throw new IllegalStateException("batch is closed");
            if (pending.containsKey(key)) return false;
            Path target = pathOf(key);
            if (Files.exists(target)) return false;
            Path temp = newTemp(target, LinuxFiles.available());
            try {
                writeTemp(temp, bytes, false); // made durable by the commit's syncfs
            } catch (IOException e) {
                Files.deleteIfExists(temp);
                throw classify(e, "put " + key);
            }
            if (pending.putIfAbsent(key, temp) != null) { // a racing put of the same content got there first
                Files.deleteIfExists(temp);
                return false;
            }
            return true;
        }

        @Override
        public boolean holds(ObjectKey key) {
            return pending.containsKey(key);
        }

        @Override
        public void commit() throws IOException {
            synchronized (commitLock) {
                ensureOpen();
                var batch = java.util.List.copyOf(pending.entrySet());
                if (batch.isEmpty()) return;
                Set<Path> newDirectories = Set.copyOf(batchDirectories); // after the list: holds every entry's new directory
                try {
                    if (LinuxFiles.available()) {
                        LinuxFiles.sync(root); // every temp file's bytes and size, and new directories, in one journal commit
                        durableDirectories.addAll(newDirectories);
                        batchDirectories.removeAll(newDirectories);
                    } else {
                        for (var e : batch) {
                            try (FileChannel ch = FileChannel.open(e.getValue(), StandardOpenOption.WRITE)) {
                                ch.force(true);
                            }
                        }
                    }
                    java.util.Set<Path> dirs = new java.util.HashSet<>();
                    for (var e : batch) {
                        Path target = pathOf(e.getKey());
                        try {
                            if (linkSupported) Files.createLink(target, e.getValue());
                            else Files.move(e.getValue(), target, StandardCopyOption.ATOMIC_MOVE);
                        } catch (FileAlreadyExistsException raced) {
                            // another put of the same content won; its bytes are equivalent
                        }
                        dirs.add(target.getParent());
                    }
                    if (LinuxFiles.available()) {
                        LinuxFiles.sync(root); // the names
                    } else {
                        for (Path d : dirs) syncDirectory(d);
                    }
                } catch (IOException e) {
                    throw classify(e, "commit of " + batch.size() + " objects");
                }
                for (var e : batch) {
                    pending.remove(e.getKey(), e.getValue());
                    Files.deleteIfExists(e.getValue()); // the link keeps the data; a leftover temp is removed at open
                }
            }
        }

        @Override
        public void close() {
            closed = true;
            for (Path temp : pending.values()) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException e) {
                    log.warn("repository {}: could not remove temp file {}: {}", root, temp, e.toString());
                }
            }
            pending.clear();
        }
    }

    /** A fresh temp name beside {@code target} (its directory created durably if new). */
    private Path newTemp(Path target) throws IOException {
        return newTemp(target, false);
    }

    /**
     * A fresh temp name beside {@code target}; its directory is created if new — durably, or, for a batch
     * whose commit runs syncfs ({@code forBatch}), left for that commit to make durable.
     */
    private Path newTemp(Path target, boolean forBatch) throws IOException {
        Path dir = target.getParent();
        if (forBatch) ensureDirectoryForBatch(dir);
        else ensureDirectory(dir);
        // unique enough: CREATE_NEW refuses a clash rather than sharing a file
        return target.resolveSibling(target.getFileName() + ".tmp-" + HEX.toHexDigits(java.util.concurrent.ThreadLocalRandom.current().nextLong()));
    }

    private void ensureDirectoryForBatch(Path dir) throws IOException {
        if (durableDirectories.contains(dir) || batchDirectories.contains(dir)) return;
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir)) throw classify(e, "create directory " + dir);
        } catch (IOException e) {
            throw classify(e, "create directory " + dir);
        }
        batchDirectories.add(dir);
    }

    /**
     * Writes an object's temp file. Of a large object in page-aligned native memory (a pack), the whole
     * 4 KiB pages go past the page cache (O_DIRECT): no copy of every stored byte into the cache, and
     * no dirty pages for a later sync to write back; the tail goes through the cache as usual. Either
     * way the bytes are durable only after {@code sync} here or the batch's syncfs (which also flushes
     * the device's cache).
     */
    private void writeTemp(Path temp, ByteBuffer bytes, boolean sync) throws IOException {
        ByteBuffer src = bytes.duplicate();
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long offset = 0;
            int direct = directPrefix(src);
            if (direct > 0 && writeDirect(temp, src.slice(src.position(), direct))) {
                src.position(src.position() + direct);
                offset = direct;
            }
            while (src.hasRemaining()) offset += ch.write(src, offset);
            if (sync) ch.force(true);
        }
    }

    /** Objects at least this large may be written with O_DIRECT ({@link #writeTemp}). */
    static final int DIRECT_WRITE_MIN = 1 << 20;
    private static final int DIRECT_ALIGNMENT = 4096;
    /** False once this file system refused O_DIRECT (tmpfs before Linux 6.6 does): then every write goes through the page cache. */
    private volatile boolean directWrites = true;

    /** How many leading bytes of {@code src} can be written with O_DIRECT: whole pages of an aligned native buffer, or none. */
    private int directPrefix(ByteBuffer src) {
        if (!directWrites || !src.isDirect() || src.remaining() < DIRECT_WRITE_MIN) return 0;
        if (src.alignmentOffset(src.position(), DIRECT_ALIGNMENT) != 0) return 0;
        return src.remaining() & -DIRECT_ALIGNMENT;
    }

    /** Writes {@code pages} at the start of the (new, empty) file with O_DIRECT; false if the file system does not take O_DIRECT. */
    private boolean writeDirect(Path file, ByteBuffer pages) throws IOException {
        FileChannel d;
        try {
            d = FileChannel.open(file, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
        } catch (IOException | UnsupportedOperationException e) {
            directWrites = false;
            log.info("repository {}: the file system does not take O_DIRECT ({}); objects are written through the page cache", root, e.toString());
            return false;
        }
        try (d) {
            long offset = 0;
            while (pages.hasRemaining()) offset += d.write(pages, offset);
        }
        return true;
    }

    @Override
    public ByteBuffer get(ObjectKey key) throws IOException {
        ensureOpen();
        Path path = pathOf(key);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE - 16) throw new IOException("object " + key + " is too large to read: " + size + " bytes");
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) throw new EOFException("object " + key + " shrank while being read");
            }
            return buf.flip();
        } catch (NoSuchFileException e) {
            throw new NoSuchObjectException(key, describe());
        }
    }

    @Override
    public ByteBuffer get(ObjectKey key, long offset, int length) throws IOException {
        ensureOpen();
        try (FileChannel ch = FileChannel.open(pathOf(key), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(length);
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    throw new EOFException("object " + key + " holds " + ch.size() + " bytes; asked for " + length + " at " + offset);
                }
            }
            return buf.flip();
        } catch (NoSuchFileException e) {
            throw new NoSuchObjectException(key, describe());
        }
    }

    @Override
    public void willRead(ObjectKey key, long offset, long length) {
        if (!LinuxFiles.available() || closed) return;
        try {
            LinuxFiles.willNeed(pathOf(key), offset, length);
        } catch (IOException | RuntimeException ignored) {
            // a hint: the read itself reports what is wrong
        }
    }

    @Override
    public boolean exists(ObjectKey key) throws IOException {
        ensureOpen();
        try {
            Files.readAttributes(pathOf(key), BasicFileAttributes.class);
            return true;
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    @Override
    public void list(ObjectKind kind, Consumer<ObjectInfo> each) throws IOException {
        ensureOpen();
        switch (kind) {
            case CONFIG -> {
                for (String name : new String[] {"config", "config.copy"}) report(new ObjectKey(kind, name), each);
            }
            case MANIFEST, INDEX, DELETED -> listDirectory(root.resolve(kind.directory()), kind, "", each);
            case PAGE, CHUNK, PACK -> {
                try (DirectoryStream<Path> fanOut = Files.newDirectoryStream(root.resolve(kind.directory()))) {
                    for (Path sub : fanOut) {
                        String prefix = sub.getFileName().toString();
                        if (prefix.length() == kind.fanOutDigits() && isHex(prefix) && Files.isDirectory(sub)) {
                            listDirectory(sub, kind, prefix, each);
                        }
                    }
                }
            }
        }
    }

    private void listDirectory(Path dir, ObjectKind kind, String prefix, Consumer<ObjectInfo> each) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (kind.isValidName(name) && name.startsWith(prefix)) report(new ObjectKey(kind, name), each);
            }
        } catch (NoSuchFileException e) {
            // The directory vanished under us (it is never deleted by this class): nothing to list.
        }
    }

    private void report(ObjectKey key, Consumer<ObjectInfo> each) throws IOException {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(pathOf(key), BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return; // deleted between readdir and stat: a listing may or may not report it
        }
        if (!attributes.isRegularFile()) return;
        each.accept(new ObjectInfo(key, attributes.size(), attributes.lastModifiedTime().toInstant()));
    }

    @Override
    public void delete(ObjectKey key) throws IOException {
        ensureOpen();
        Path path = pathOf(key);
        if (Files.deleteIfExists(path)) syncDirectory(path.getParent()); // a deleted root must not come back
    }

    @Override
    public String describe() {
        return "local:" + root;
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closed = true;
        try {
            lock.release();
        } finally {
            lockChannel.close();
        }
    }

    private void ensureOpen() throws IOException {
        if (closed) throw new IOException("repository backend " + describe() + " is closed");
    }

    private void ensureDirectory(Path dir) throws IOException {
        if (durableDirectories.contains(dir)) return;
        try {
            if (batchDirectories.contains(dir)) syncDirectory(dir.getParent()); // a batch made it; its commit may not have run yet
            createDurably(dir);
        } catch (IOException e) {
            throw classify(e, "create directory " + dir);
        }
        durableDirectories.add(dir);
    }

    /** Creates {@code dir} if absent and syncs its parent so the new entry survives a crash. */
    private static void createDurably(Path dir) throws IOException {
        if (Files.isDirectory(dir)) return;
        try {
            Files.createDirectory(dir);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir)) throw e;
            // A concurrent put created it and may not have synced the parent yet: sync it ourselves below.
        }
        syncDirectory(dir.getParent());
    }

    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static int removeTempFiles(Path root) throws IOException {
        int[] removed = {0};
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (TEMP_NAME.matcher(file.getFileName().toString()).matches()) {
                    Files.deleteIfExists(file);
                    removed[0]++;
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return removed[0];
    }

    private static boolean probeHardLinks(Path root) throws IOException {
        Path probe = root.resolve("link-probe.tmp-0000000000000000");
        Path linked = root.resolve("link-probe2.tmp-0000000000000000");
        Files.deleteIfExists(probe);
        Files.deleteIfExists(linked);
        Files.createFile(probe);
        try {
            Files.createLink(linked, probe);
            return true;
        } catch (UnsupportedOperationException | FileSystemException e) {
            return false;
        } finally {
            Files.deleteIfExists(linked);
            Files.deleteIfExists(probe);
        }
    }

    /** Turns "no space" failures into {@link BackendFullException}; other failures pass through. */
    static IOException classify(IOException e, String operation) {
        if (e instanceof BackendFullException) return e;
        String reason = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : String.valueOf(e.getMessage());
        if (reason.contains("No space left on device") || reason.contains("Disk quota exceeded")) {
            return new BackendFullException("repository storage is full (" + reason + "); " + operation + " failed — free space and retry", e);
        }
        return e;
    }

    private static boolean isHex(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        }
        return true;
    }
}
