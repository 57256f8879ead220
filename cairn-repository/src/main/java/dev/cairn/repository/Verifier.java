package dev.cairn.repository;

import dev.cairn.repository.backend.NoSuchObjectException;
import dev.cairn.repository.backend.ObjectInfo;
import dev.cairn.repository.backend.ObjectKey;
import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks a repository end to end (restic's {@code checker}): both config copies; every manifest root;
 * every distinct page; that every referenced chunk exists; and, for a sample of chunks, that they
 * decode and hash to their ids. Each problem is recorded with the object's key and verification
 * goes on: one bad object never hides another.
 *
 * <p>Reads only; safe to run next to writers and GC (an object deleted by GC during the run may be
 * reported missing only if a manifest still referenced it, which GC never allows).
 *
 * <p>Not thread-safe; one verification per instance.
 */
final class Verifier {

    private static final Logger log = LoggerFactory.getLogger(Verifier.class);

    private final Repository repo;
    private final List<Problem> problems = new ArrayList<>();

    Verifier(Repository repo) {
        this.repo = repo;
    }

    VerifyReport verify(double sampleFraction, Cancellation cancel) throws IOException {
        if (!(sampleFraction >= 0 && sampleFraction <= 1)) throw new IllegalArgumentException("sample fraction must be within 0..1: " + sampleFraction);
        Instant start = repo.clock().instant();
        verifyConfig(Repository.CONFIG);
        verifyConfig(Repository.CONFIG_COPY);

        // Roots, then each distinct page once, collecting every referenced chunk.
        List<ManifestId> manifests = repo.listManifests();
        List<String> owners = new ArrayList<>();
        ChunkIdTable pages = new ChunkIdTable();
        int readableRoots = 0;
        for (ManifestId id : manifests) {
            cancel.check();
            ObjectKey key = ChunkCodec.Type.ROOT.keyOf(id.content());
            try {
                ManifestRoot root = repo.readRoot(id).root();
                owners.add("manifest " + id.shortForm());
                for (ChunkId page : root.pageIds()) if (!page.isZero()) pages.put(page, owners.size() - 1);
                readableRoots++;
            } catch (NoSuchObjectException e) {
                // Deleted since the listing: not a problem.
            } catch (CorruptObjectException e) {
                problems.add(new Problem(key, Problem.Kind.CORRUPT, detail(e)));
            } catch (UnsupportedFormatException e) {
                problems.add(new Problem(key, Problem.Kind.CORRUPT, e.getMessage()));
            } catch (IOException e) {
                problems.add(new Problem(key, Problem.Kind.UNREADABLE, e.toString()));
            }
        }
        List<ChunkId> pageIds = new ArrayList<>(pages.size());
        pages.forEach(pageIds::add);
        ChunkIdTable referenced = new ChunkIdTable(pageIds.size() * 64);
        for (ChunkId page : pageIds) {
            cancel.check();
            ObjectKey key = ChunkCodec.Type.PAGE.keyOf(page);
            String owner = owners.get(pages.get(page, 0));
            try {
                long[] words = repo.readPage(page);
                for (int i = 0; i < words.length; i += 4) {
                    ChunkId chunk = new ChunkId(words[i], words[i + 1], words[i + 2], words[i + 3]);
                    if (!chunk.isZero()) referenced.put(chunk, pages.get(page, 0));
                }
            } catch (NoSuchObjectException e) {
                problems.add(new Problem(key, Problem.Kind.MISSING, "page of " + owner + " is missing"));
            } catch (CorruptObjectException e) {
                problems.add(new Problem(key, Problem.Kind.CORRUPT, detail(e) + " (page of " + owner + ")"));
            } catch (IOException e) {
                problems.add(new Problem(key, Problem.Kind.UNREADABLE, e + " (page of " + owner + ")"));
            }
        }

        // Chunks: existence of every referenced one, then a sample re-read.
        List<ObjectInfo> chunks = new ArrayList<>();
        repo.chunks().list(chunks::add);
        repo.chunks().verifyStructure(problems::add, cancel);
        ChunkIdTable present = new ChunkIdTable(chunks.size());
        for (ObjectInfo info : chunks) present.add(ChunkId.parse(info.key().name()));
        long[] unreferenced = {0};
        present.forEach(id -> {
            if (!referenced.contains(id)) unreferenced[0]++;
        });
        List<Problem> missing = new ArrayList<>();
        referenced.forEachEntry((id, owner) -> {
            if (!present.contains(id)) missing.add(new Problem(ChunkCodec.Type.CHUNK.keyOf(id), Problem.Kind.MISSING, "chunk referenced by " + owners.get(owner) + " is missing"));
        });
        problems.addAll(missing);

        long seed = new SplittableRandom().nextLong();
        long read = 0;
        long bytes = 0;
        byte[] buffer = new byte[repo.blockSize()];
        for (ObjectInfo info : chunks) {
            cancel.check();
            ChunkId id = ChunkId.parse(info.key().name());
            if (!sampled(id, seed, sampleFraction)) continue;
            try {
                repo.codec().decode(ChunkCodec.Type.CHUNK, id, repo.chunks().get(id), buffer, 0, buffer.length, repo.blockSize());
                read++;
                bytes += info.size();
            } catch (NoSuchObjectException e) {
                // Deleted by GC since the listing; if it was referenced, the existence check above still saw it.
            } catch (CorruptObjectException e) {
                problems.add(new Problem(info.key(), Problem.Kind.CORRUPT, detail(e)));
            } catch (IOException e) {
                problems.add(new Problem(info.key(), Problem.Kind.UNREADABLE, e.toString()));
            }
        }
        VerifyReport report = new VerifyReport(problems, readableRoots, pageIds.size(), chunks.size(), read, bytes, unreferenced[0],
                Duration.between(start, repo.clock().instant()));
        if (report.ok()) {
            log.info("verify {}: ok — {} manifests, {} pages, {} chunks ({} re-read, {} bytes), {} unreferenced", repo, report.manifests(),
                    report.pages(), report.chunks(), report.chunksRead(), report.bytesRead(), report.unreferencedChunks());
        } else {
            log.warn("verify {}: {} problem(s): {}", repo, problems.size(), problems.subList(0, Math.min(10, problems.size())));
        }
        return report;
    }

    private void verifyConfig(ObjectKey key) {
        try {
            byte[] bytes = Repository.bytes(repo.backend().get(key));
            RepositoryConfig.parse(key, bytes);
            if (!Arrays.equals(bytes, repo.config().toBytes())) problems.add(new Problem(key, Problem.Kind.CORRUPT, "differs from the config in use"));
        } catch (NoSuchObjectException e) {
            problems.add(new Problem(key, Problem.Kind.MISSING, "config object is missing"));
        } catch (CorruptObjectException e) {
            problems.add(new Problem(key, Problem.Kind.CORRUPT, detail(e)));
        } catch (UnsupportedFormatException e) {
            problems.add(new Problem(key, Problem.Kind.CORRUPT, e.getMessage()));
        } catch (IOException e) {
            problems.add(new Problem(key, Problem.Kind.UNREADABLE, e.toString()));
        }
    }

    /** The exception's message without the "corrupt object KEY: " prefix the problem's key repeats. */
    private static String detail(CorruptObjectException e) {
        String m = e.getMessage();
        int i = m.indexOf(": ");
        return i >= 0 ? m.substring(i + 2) : m;
    }

    /** Deterministic per (id, seed): each chunk is picked with probability {@code fraction}. */
    static boolean sampled(ChunkId id, long seed, double fraction) {
        if (fraction >= 1) return true;
        if (fraction <= 0) return false;
        long z = id.w3() ^ seed;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53 < fraction;
    }
}
