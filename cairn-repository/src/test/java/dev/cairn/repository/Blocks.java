package dev.cairn.repository;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/** Test data: random, text-like and zero blocks. */
final class Blocks {
    private Blocks() {}

    static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] text(int size, long seed) {
        String[] words = {"block", "chunk", "snapshot", "manifest", "the", "of", "cairn", "disk", "volume", "repository", "\n"};
        Random r = new Random(seed);
        byte[] b = new byte[size];
        int i = 0;
        while (i < size) {
            byte[] w = (words[r.nextInt(words.length)] + " ").getBytes(StandardCharsets.US_ASCII);
            int n = Math.min(w.length, size - i);
            System.arraycopy(w, 0, b, i, n);
            i += n;
        }
        return b;
    }

    static ByteBuffer buf(byte[] b) {
        return ByteBuffer.wrap(b);
    }

    static byte[] read(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    /** How many chunks the repository stores (format 1: chunk objects; format 2: chunks in packs). */
    static int storedChunks(Repository repo) throws java.io.IOException {
        int[] n = {0};
        repo.chunks().list(i -> n[0]++);
        return n[0];
    }
}
