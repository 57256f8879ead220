package dev.cairn.control;

import java.util.List;

/** One page of a listing and the number of matches before paging. */
public record Page<T>(long totalCount, List<T> items) {
    public Page {
        items = List.copyOf(items);
    }
}
