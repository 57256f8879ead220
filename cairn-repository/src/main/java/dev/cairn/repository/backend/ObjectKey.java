package dev.cairn.repository.backend;

/**
 * The name of one object: its kind and its name within the kind (64 lower-case hex digits, or
 * {@code config}/{@code config.copy}). {@link #toString()} is the relative key both backends use,
 * e.g. {@code chunks/0a1b/0a1b…}; it is what problem reports and errors show.
 */
public record ObjectKey(ObjectKind kind, String name) {

    public ObjectKey {
        if (kind == null || name == null) throw new IllegalArgumentException("kind and name are required");
        if (!kind.isValidName(name)) throw new IllegalArgumentException("not a valid " + kind + " name: '" + name + "'");
    }

    /** The relative key: directory, fan-out directory, name, separated by {@code /}. */
    public String path() {
        if (kind.directory().isEmpty()) return name;
        int fan = kind.fanOutDigits();
        return fan == 0 ? kind.directory() + "/" + name : kind.directory() + "/" + name.substring(0, fan) + "/" + name;
    }

    @Override
    public String toString() {
        return path();
    }
}
