package dev.cairn.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The parameters of one request (or of one nested object such as {@code Placement}), read with
 * Tencent's validation codes: absent required field → {@code MissingParameter}, wrong JSON type →
 * {@code InvalidParameter}, a field the action does not define → {@code UnknownParameter} (raised by
 * {@link #end} for every field no getter asked for). JSON {@code null} counts as absent, as the SDK
 * never sends it. Messages name the field with its full path ({@code DataDisks.1.DiskSize}).
 *
 * <p>One instance per request and thread.
 */
final class Params {
    private final ObjectNode node;
    private final String prefix;
    private final Set<String> read = new HashSet<>();

    private Params(ObjectNode node, String prefix) {
        this.node = node;
        this.prefix = prefix;
    }

    static Params of(JsonNode body) {
        if (!(body instanceof ObjectNode o)) throw new ApiError("InvalidParameter", "The request body must be a JSON object.");
        return new Params(o, "");
    }

    String path(String name) {
        return prefix + name;
    }

    private Optional<JsonNode> raw(String name) {
        read.add(name);
        JsonNode v = node.get(name);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v);
    }

    boolean has(String name) {
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    Optional<String> string(String name) {
        return raw(name).map(v -> {
            if (!v.isTextual()) throw ApiError.type(path(name), "a string");
            return v.asText();
        });
    }

    String requiredString(String name) {
        return string(name).orElseThrow(() -> ApiError.missing(path(name)));
    }

    /** A string that must match {@code pattern}, else {@code code} (e.g. {@code InvalidInstanceId.Malformed}). */
    Optional<String> id(String name, Pattern pattern, String code) {
        return string(name).map(s -> checkId(path(name), s, pattern, code));
    }

    static String checkId(String field, String s, Pattern pattern, String code) {
        if (!pattern.matcher(s).matches()) {
            throw new ApiError(code, "The value of parameter `" + field + "` is malformed: '" + clip(s) + "'.");
        }
        return s;
    }

    /** One of {@code allowed}; anything else is {@code InvalidParameterValue} listing them. */
    Optional<String> oneOf(String name, List<String> allowed) {
        return string(name).map(s -> {
            if (!allowed.contains(s)) throw ApiError.value(path(name), "'" + clip(s) + "' is not one of " + allowed + ".");
            return s;
        });
    }

    Optional<Long> integer(String name) {
        return raw(name).map(v -> {
            if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiError.type(path(name), "an integer");
            return v.longValue();
        });
    }

    long requiredInteger(String name) {
        return integer(name).orElseThrow(() -> ApiError.missing(path(name)));
    }

    /** An integer in {@code [min, max]}, else {@code InvalidParameterValue}. */
    Optional<Long> integer(String name, long min, long max) {
        return integer(name).map(n -> {
            if (n < min || n > max) throw ApiError.value(path(name), n + " is outside " + min + ".." + max + ".");
            return n;
        });
    }

    Optional<Boolean> bool(String name) {
        return raw(name).map(v -> {
            if (!v.isBoolean()) throw ApiError.type(path(name), "a boolean (true or false)");
            return v.booleanValue();
        });
    }

    Optional<List<String>> strings(String name) {
        return raw(name).map(v -> {
            if (!v.isArray()) throw ApiError.type(path(name), "an array of strings");
            List<String> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                if (!v.get(i).isTextual()) throw ApiError.type(path(name) + "." + i, "a string");
                out.add(v.get(i).asText());
            }
            return out;
        });
    }

    List<String> requiredStrings(String name) {
        List<String> s = strings(name).orElseThrow(() -> ApiError.missing(path(name)));
        if (s.isEmpty()) throw ApiError.missing(path(name));
        return s;
    }

    /** A list of ids, each matching {@code pattern} (else {@code code}). */
    Optional<List<String>> ids(String name, Pattern pattern, String code) {
        return strings(name).map(list -> {
            for (int i = 0; i < list.size(); i++) checkId(path(name) + "." + i, list.get(i), pattern, code);
            return list;
        });
    }

    /** The JSON array at {@code name} (present: check with {@link #has}). */
    JsonNode rawArray(String name) {
        JsonNode v = raw(name).orElseThrow(() -> ApiError.missing(path(name)));
        if (!v.isArray()) throw ApiError.type(path(name), "an array");
        return v;
    }

    Optional<Params> object(String name) {
        return raw(name).map(v -> {
            if (!(v instanceof ObjectNode o)) throw ApiError.type(path(name), "an object");
            return new Params(o, path(name) + ".");
        });
    }

    Params requiredObject(String name) {
        return object(name).orElseThrow(() -> ApiError.missing(path(name)));
    }

    /** An array of objects; {@code each} reads one element (its Params end()ed afterwards). */
    <T> Optional<List<T>> objects(String name, Function<Params, T> each) {
        return raw(name).map(v -> {
            if (!v.isArray()) throw ApiError.type(path(name), "an array of objects");
            List<T> out = new ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                if (!(v.get(i) instanceof ObjectNode o)) throw ApiError.type(path(name) + "." + i, "an object");
                Params p = new Params(o, path(name) + "." + i + ".");
                T t = each.apply(p);
                p.end();
                out.add(t);
            }
            return out;
        });
    }

    /** Fields the action defines but Cairn has no use for (networking, login, agents …): accepted, no effect. */
    void accept(String... names) {
        read.addAll(List.of(names));
    }

    /**
     * Fields the action defines that Cairn does not implement: present with a value other than the
     * "off" value ({@code null}, {@code false}, {@code 0}, {@code ""}, {@code []}) → {@code UnsupportedOperation}.
     */
    void unsupported(String why, String... names) {
        for (String name : names) {
            read.add(name);
            JsonNode v = node.get(name);
            boolean off = v == null || v.isNull() || (v.isBoolean() && !v.booleanValue()) || (v.isNumber() && v.asLong() == 0)
                    || (v.isTextual() && v.asText().isEmpty()) || (v.isContainerNode() && v.isEmpty());
            if (!off) throw ApiError.unsupported(path(name), why);
        }
    }

    /** Fails with {@code UnknownParameter} naming the first field nobody read. */
    void end() {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!read.contains(f)) throw ApiError.unknown(path(f));
        }
    }

    static String clip(String s) {
        return s.length() > 64 ? s.substring(0, 64) + "…" : s;
    }
}
