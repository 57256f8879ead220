package dev.cairn.control;

import java.time.Instant;

/** A machine image. Cairn ships one public blank image; custom images come with snapshots (later). */
public record Image(
        String imageId,
        String imageName,
        String imageType,
        String osName,
        String platform,
        String architecture,
        long imageSizeGib,
        String imageState,
        String imageSource,
        String imageCreator,
        String description,
        Instant createdAt) {

    /** The always-present blank public image: a system disk of zeros. */
    public static final Image BLANK = new Image("img-blank001", "Cairn blank disk", "PUBLIC_IMAGE", "Blank (no OS)",
            "Other", "x86_64", 20, "NORMAL", "OFFICIAL", "", "An empty system disk; install what you like over NBD",
            Instant.parse("2026-01-01T00:00:00Z"));
}
