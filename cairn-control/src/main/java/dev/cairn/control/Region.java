package dev.cairn.control;

import java.time.ZoneId;
import java.util.List;
import java.util.Optional;

/**
 * The one region this Cairn serves and its availability zones: {@code <name>-1 … <name>-3}.
 * Configuration, not catalog data. {@code timeZone} is the region's local time (Tencent reports
 * CBS times in it; {@code Asia/Shanghai} for the {@code ap-} regions of mainland China). {@code prices}: what its
 * stored snapshot data costs ({@link Billing}).
 */
public record Region(String name, String displayName, ZoneId timeZone, List<Zone> zones, Billing.Prices prices) {
    public static final String DEFAULT_NAME = "ap-guangzhou";

    /** One availability zone; {@code zoneId} is Tencent's numeric zone id as a string. */
    public record Zone(String zone, String zoneName, String zoneId, boolean available) {}

    public Region {
        if (name == null || !name.matches("[a-z][a-z0-9-]{1,40}[a-z0-9]")) {
            throw new IllegalArgumentException("region name must be lowercase letters, digits and '-': " + name);
        }
        zones = List.copyOf(zones);
    }

    /** The region {@code name} with zones {@code name-1..3}, in {@code Asia/Shanghai} time. */
    public static Region of(String name) {
        var zones = new java.util.ArrayList<Zone>();
        for (int i = 1; i <= 3; i++) {
            zones.add(new Zone(name + "-" + i, displayNameOf(name) + " Zone " + i, String.valueOf(100000 + i), true));
        }
        return new Region(name, displayNameOf(name), ZoneId.of("Asia/Shanghai"), zones, Billing.Prices.defaults());
    }

    /** This region with its local time in {@code zone} (policy hours, the API's times). */
    public Region withTimeZone(ZoneId zone) {
        return new Region(name, displayName, zone, zones, prices);
    }

    /** This region with its snapshot storage prices. */
    public Region withPrices(Billing.Prices p) {
        return new Region(name, displayName, timeZone, zones, p);
    }

    public static Region defaultRegion() {
        return of(DEFAULT_NAME);
    }

    public Optional<Zone> zone(String zone) {
        return zones.stream().filter(z -> z.zone().equals(zone)).findFirst();
    }

    private static String displayNameOf(String name) {
        return switch (name) {
            case "ap-guangzhou" -> "South China (Guangzhou)";
            case "ap-shanghai" -> "East China (Shanghai)";
            case "ap-beijing" -> "North China (Beijing)";
            default -> "Cairn (" + name + ")";
        };
    }
}
