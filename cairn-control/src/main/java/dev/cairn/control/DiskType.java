package dev.cairn.control;

import java.util.Optional;

/** Cloud disk media types, Tencent's names. Cairn stores every type the same way; the type sets size rules. */
public enum DiskType {
    CLOUD_BASIC, CLOUD_PREMIUM, CLOUD_BSSD, CLOUD_SSD, CLOUD_HSSD, CLOUD_TSSD;

    public static Optional<DiskType> parse(String s) {
        for (DiskType t : values()) if (t.name().equals(s)) return Optional.of(t);
        return Optional.empty();
    }
}
