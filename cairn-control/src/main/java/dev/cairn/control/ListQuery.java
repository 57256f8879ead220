package dev.cairn.control;

import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;

/**
 * What a Describe call asks for: a filter (already built from Tencent's Filters by the caller), an
 * order, and an {@code offset}/{@code limit} window. {@code ids} non-empty restricts to those ids.
 */
public record ListQuery<T>(List<String> ids, Predicate<? super T> filter, Comparator<? super T> order, int offset, int limit) {
    public ListQuery {
        ids = ids == null ? List.of() : List.copyOf(ids);
        if (offset < 0 || limit < 0) throw new IllegalArgumentException("offset/limit must be >= 0");
    }

    public static <T> ListQuery<T> all(Comparator<? super T> order) {
        return new ListQuery<>(List.of(), x -> true, order, 0, Integer.MAX_VALUE);
    }

    Page<T> apply(List<T> rows) {
        List<T> matching = rows.stream().filter(filter).sorted(order).toList();
        int from = Math.min(offset, matching.size());
        int to = (int) Math.min((long) from + limit, matching.size());
        return new Page<>(matching.size(), matching.subList(from, to));
    }
}
