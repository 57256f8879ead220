package dev.cairn.nbd;

import java.util.Objects;

/** One NBD_OPT_LIST entry: an export name and an optional (possibly empty) description. */
public record ExportInfo(String name, String description) {
    public ExportInfo {
        Objects.requireNonNull(name, "name");
        description = description == null ? "" : description;
    }
}
