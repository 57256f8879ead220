package dev.cairn.repository;

import dev.cairn.repository.backend.ObjectKind;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.IntBinaryOperator;

/**
 * Space figures computed from manifests, for billing and {@code GetSnapOverview}:
 * <ul>
 *   <li>logical and incremental size come from each root ({@link ManifestInfo#logicalBytes()},
 *       {@link ManifestInfo#incrementalBytes()}) — recorded at commit, no scan needed;</li>
 *   <li>{@link #exclusiveBytes(Collection, Cancellation) exclusive size}: what deleting one manifest would
 *       free while the others stay — its root, and the pages and chunks no other manifest references;</li>
 *   <li>{@link #storedBytes total stored size} of a set of manifests (an account's): the union of
 *       their roots, pages and chunks, each counted once.</li>
 * </ul>
 *
 * <p><b>Cost.</b> Reference sets are built per page, not per manifest: a page shared by 1,000
 * snapshots of one disk (its blocks unchanged) is read once and its owners are resolved at page
 * level, so the work is (roots + distinct pages + one listing of chunk sizes), not (manifests ×
 * blocks). Roots (until their manifest is deleted) and up to {@value #CACHED_PAGES} decoded pages are
 * kept across calls on the repository's one instance, so an hourly billing run or a refresh after a
 * snapshot re-reads only the new manifests' roots and pages.
 *
 * <p><b>Threads.</b> Thread-safe (calls are serialized); results reflect the repository during the call.
 */
public final class SpaceAccounting {

    private static final int MANY = -2;
    private static final int NONE = -1;
    private static final int CACHED_PAGES = 2048;

    private final Repository repo;
    private final Map<ManifestId, Repository.LoadedRoot> roots = new HashMap<>();
    private final Map<ChunkId, long[]> pages = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ChunkId, long[]> eldest) {
            return size() > CACHED_PAGES;
        }
    };

    SpaceAccounting(Repository repo) {
        this.repo = repo;
    }

    /**
     * For each manifest of {@code manifests}, the stored bytes deleting it alone would free, given that
     * all the others in {@code manifests} stay. Pass every manifest of the repository for the true
     * figure (a chunk also used by a manifest outside the set counts as exclusive).
     */
    public synchronized Map<ManifestId, Long> exclusiveBytes(Collection<ManifestId> manifests, Cancellation cancel) throws IOException {
        return attribute(manifests, (current, candidate) -> current == candidate ? current : MANY, cancel); // shared: nobody's
    }

    /**
     * Billing's attribution: each stored object is charged once, to the first manifest of
     * {@code oldestFirst} that references it — a manifest pays for its root and for the pages and chunks
     * no older manifest of the list uses. Dropping a manifest from the list passes its shared objects on
     * to the next one that uses them. The values add up to {@link #storedBytes} of the list.
     */
    public synchronized Map<ManifestId, Long> ownedBytes(List<ManifestId> oldestFirst, Cancellation cancel) throws IOException {
        return attribute(oldestFirst, Math::min, cancel); // the oldest user keeps it
    }

    /**
     * Sums, per manifest, its root and the pages and chunks attributed to it: an object used by one
     * manifest is that one's; when several use it, {@code merge(current, candidate)} of their indexes
     * decides ({@link #MANY}: nobody's). Pages are resolved first, then each chunk from the pages that
     * hold it, so the work is per distinct page, not per manifest.
     */
    private Map<ManifestId, Long> attribute(Collection<ManifestId> manifests, IntBinaryOperator merge, Cancellation cancel) throws IOException {
        List<ManifestId> ids = new ArrayList<>(new LinkedHashSet<>(manifests));
        long[] total = new long[ids.size()];
        ChunkIdTable pageOwner = new ChunkIdTable();
        for (int i = 0; i < ids.size(); i++) {
            cancel.check();
            Repository.LoadedRoot loaded = root(ids.get(i));
            total[i] += loaded.storedBytes();
            for (ChunkId page : loaded.root().pageIds()) {
                if (page.isZero()) continue;
                int current = pageOwner.get(page, NONE);
                pageOwner.put(page, current == NONE ? i : merge.applyAsInt(current, i));
            }
        }
        List<ChunkId> distinctPages = new ArrayList<>(pageOwner.size());
        pageOwner.forEach(distinctPages::add);
        ChunkIdTable chunkOwner = new ChunkIdTable(distinctPages.size() * 64);
        for (ChunkId page : distinctPages) {
            cancel.check();
            int owner = pageOwner.get(page, NONE);
            long[] words = page(page);
            for (int w = 0; w < words.length; w += 4) {
                if ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) == 0) continue;
                ChunkId chunk = new ChunkId(words[w], words[w + 1], words[w + 2], words[w + 3]);
                int current = chunkOwner.get(chunk, NONE);
                chunkOwner.put(chunk, current == NONE ? owner : merge.applyAsInt(current, owner));
            }
        }
        repo.chunks().list(info -> {
            int owner = chunkOwner.get(ChunkId.parse(info.key().name()), NONE);
            if (owner >= 0) total[owner] += info.size();
        });
        repo.backend().list(ObjectKind.PAGE, info -> {
            int owner = pageOwner.get(ChunkId.parse(info.key().name()), NONE);
            if (owner >= 0) total[owner] += info.size();
        });
        Map<ManifestId, Long> result = new LinkedHashMap<>();
        for (int i = 0; i < ids.size(); i++) result.put(ids.get(i), total[i]);
        return result;
    }

    /** The exclusive bytes of one manifest among {@code all} (which it need not be part of). */
    public long exclusiveBytes(ManifestId manifest, Collection<ManifestId> all) throws IOException {
        List<ManifestId> set = new ArrayList<>(all);
        set.add(manifest);
        return exclusiveBytes(set, Cancellation.none()).get(manifest);
    }

    /** Stored bytes of the union of {@code manifests}: roots, pages and chunks, each counted once. */
    public synchronized long storedBytes(Collection<ManifestId> manifests) throws IOException {
        ChunkIdTable pageSet = new ChunkIdTable();
        ChunkIdTable chunkSet = new ChunkIdTable(1 << 12);
        long total = 0;
        for (ManifestId id : new LinkedHashSet<>(manifests)) {
            Repository.LoadedRoot loaded = root(id);
            total += loaded.storedBytes();
            for (ChunkId page : loaded.root().pageIds()) {
                if (page.isZero() || !pageSet.add(page)) continue;
                long[] words = page(page);
                for (int w = 0; w < words.length; w += 4) {
                    if ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) != 0) chunkSet.add(new ChunkId(words[w], words[w + 1], words[w + 2], words[w + 3]));
                }
            }
        }
        long[] sum = {total};
        repo.chunks().list(info -> {
            if (chunkSet.contains(ChunkId.parse(info.key().name()))) sum[0] += info.size();
        });
        repo.backend().list(ObjectKind.PAGE, info -> {
            if (pageSet.contains(ChunkId.parse(info.key().name()))) sum[0] += info.size();
        });
        return sum[0];
    }

    /** Drops a deleted manifest's cached root. */
    synchronized void forget(ManifestId id) {
        roots.remove(id);
    }

    private Repository.LoadedRoot root(ManifestId id) throws IOException {
        Repository.LoadedRoot loaded = roots.get(id);
        if (loaded == null) {
            loaded = repo.readRoot(id);
            roots.put(id, loaded);
        }
        return loaded;
    }

    private long[] page(ChunkId id) throws IOException {
        long[] words = pages.get(id);
        if (words == null) {
            words = repo.readPage(id);
            pages.put(id, words);
        }
        return words;
    }
}
