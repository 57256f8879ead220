package dev.cairn.control;

import java.security.SecureRandom;

/** Resource ids and API keys in Tencent's shapes: {@code disk-} + 8 lowercase alnum, {@code AKID} + 32, … */
final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String LOWER = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final String MIXED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private Ids() {}

    static String disk() {
        return "disk-" + random(LOWER, 8);
    }

    static String snapshot() {
        return "snap-" + random(LOWER, 8);
    }

    static String snapshotGroup() {
        return "csnap-" + random(LOWER, 8);
    }

    static String image() {
        return "img-" + random(LOWER, 8);
    }

    static String autoSnapshotPolicy() {
        return "asp-" + random(LOWER, 8);
    }

    static String instance() {
        return "ins-" + random(LOWER, 8);
    }

    /** 36 characters: {@code AKID} + 32 letters and digits. */
    static String secretId() {
        return "AKID" + random(MIXED, 32);
    }

    static String secretKey() {
        return random(MIXED, 32);
    }

    private static String random(String alphabet, int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) b.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        return b.toString();
    }
}
