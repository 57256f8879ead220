package dev.cairn.control;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tencent instance type names, {@code FAMILY.SIZE<memory GiB>} (e.g. {@code S5.MEDIUM4} = 2 cores,
 * 4 GiB). Cairn's instances run nothing, so the type is only echoed with the cores and memory it names.
 */
public final class InstanceTypes {
    public static final String DEFAULT = "S5.MEDIUM4";
    private static final Pattern TYPE = Pattern.compile("([A-Z]{1,4}[0-9]{0,2}[a-z]{0,2})\\.(SMALL|MEDIUM|LARGE|([0-9]{0,2})XLARGE)([0-9]{1,4})");

    /** Cores and memory of an instance type. */
    public record Shape(long cpu, long memoryGib) {}

    private InstanceTypes() {}

    public static Optional<Shape> shape(String type) {
        if (type == null) return Optional.empty();
        Matcher m = TYPE.matcher(type);
        if (!m.matches()) return Optional.empty();
        long cpu = switch (m.group(2)) {
            case "SMALL" -> 1;
            case "MEDIUM" -> 2;
            case "LARGE" -> 4;
            default -> 4L * (m.group(3).isEmpty() ? 1 : Math.max(1, Integer.parseInt(m.group(3)))); // nXLARGE = 4n cores
        };
        return Optional.of(new Shape(cpu, Long.parseLong(m.group(4))));
    }
}
