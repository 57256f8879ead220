package dev.cairn.api;

import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Tencent's list conventions (reference §1.6): {@code Offset} (default 0), {@code Limit} (default 20,
 * at most 100), {@code Filters} as {@code [{Name, Values}]} — AND across filters, OR across the values
 * of one — and the time formats of list fields. Stateless.
 */
final class Listing {
    static final int DEFAULT_LIMIT = 20;
    static final int MAX_LIMIT = 100;
    /** CBS times: {@code 2006-01-02 15:04:05} in the region's local time. */
    static final DateTimeFormatter CBS_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");
    /** CVM times: ISO-8601 UTC {@code 2006-01-02T15:04:05Z}. */
    static final DateTimeFormatter CVM_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    private Listing() {}

    record Filter(String name, List<String> values) {}

    static int offset(Params p) {
        return (int) (long) p.integer("Offset").map(n -> {
            if (n < 0 || n > Integer.MAX_VALUE) throw ApiError.value(p.path("Offset"), "must be >= 0, got " + n + ".");
            return n;
        }).orElse(0L);
    }

    static int limit(Params p) {
        return (int) (long) p.integer("Limit").map(n -> {
            if (n < 0) throw ApiError.value(p.path("Limit"), "must be 0.." + MAX_LIMIT + ", got " + n + ".");
            if (n > MAX_LIMIT) {
                throw new ApiError("InvalidParameterValue.LimitExceeded",
                        "The value of parameter `Limit` is invalid: at most " + MAX_LIMIT + ", got " + n + ".");
            }
            return n;
        }).orElse((long) DEFAULT_LIMIT);
    }

    /** Reads {@code Filters}: at most {@code maxFilters} filters of at most {@code maxValues} values. */
    static List<Filter> filters(Params p, int maxFilters, int maxValues) {
        List<Filter> filters = p.objects("Filters", f -> new Filter(f.requiredString("Name"), f.requiredStrings("Values")))
                .orElse(List.of());
        if (filters.size() > maxFilters) {
            throw new ApiError("InvalidParameterValue.LimitExceeded", "at most " + maxFilters + " `Filters`, got " + filters.size() + ".");
        }
        for (int i = 0; i < filters.size(); i++) {
            if (filters.get(i).values().size() > maxValues) {
                throw new ApiError("InvalidFilterValue.LimitExceeded", "`Filters." + i + ".Values` has more than " + maxValues + " values.");
            }
        }
        return filters;
    }

    /** AND of the filters, each turned into a predicate by {@code one} (which throws InvalidFilter for unknown names). */
    static <T> Predicate<T> all(List<Filter> filters, Function<Filter, Predicate<T>> one) {
        List<Predicate<T>> ps = new ArrayList<>();
        for (Filter f : filters) ps.add(one.apply(f));
        return x -> ps.stream().allMatch(p -> p.test(x));
    }

    /** A predicate true when {@code key(x)} equals one of the filter's values. */
    static <T> Predicate<T> anyOf(Filter f, Function<T, String> key) {
        return x -> f.values().contains(key.apply(x));
    }

    static ApiError invalidFilter(Filter f, List<String> supported) {
        return new ApiError("InvalidFilter", "The filter `" + f.name() + "` is not supported; supported: " + supported + ".");
    }

    /** {@code TRUE}/{@code FALSE} filter values (case-insensitive). */
    static Predicate<Boolean> booleanValues(Filter f) {
        for (String v : f.values()) {
            if (!v.equalsIgnoreCase("TRUE") && !v.equalsIgnoreCase("FALSE")) {
                throw ApiError.value("Filters." + f.name(), "'" + Params.clip(v) + "' is not TRUE or FALSE.");
            }
        }
        return b -> f.values().stream().anyMatch(v -> Boolean.parseBoolean(v.toLowerCase()) == b);
    }

    /** Parses a CVM filter time {@code YYYY-MM-DD HH:MM:SS} (UTC). */
    static Instant cvmFilterTime(Filter f, String v) {
        try {
            return LocalDateTime.parse(v, CBS_TIME).toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            throw new ApiError("InvalidParameterValue.InvalidTimeFormat",
                    "`" + f.name() + "` value '" + Params.clip(v) + "' is not YYYY-MM-DD HH:MM:SS.");
        }
    }

    static String cbsTime(Instant t, ZoneId zone) {
        return CBS_TIME.format(t.atZone(zone));
    }

    static String cvmTime(Instant t) {
        return CVM_TIME.format(t);
    }
}
