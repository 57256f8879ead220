package dev.cairn.control;

import java.util.ArrayList;
import java.util.List;

/**
 * A DescribeSnapshots as the catalog answers it: conditions, order and window all go into SQL, so a
 * page costs the rows on it (and an index count), not every snapshot the caller can see. With 1,000+
 * snapshots of one disk, its newest 20 are read alone ({@link SnapshotService#describeSnapshots}).
 *
 * <p>A row matches when, for every condition, its field equals one of the condition's values (Tencent's
 * Filters: OR within a filter, AND across filters); a condition without values matches nothing. Rows
 * come ordered by creation time, then id; {@code offset}/{@code limit} select the page.
 */
public record SnapshotQuery(List<Condition> conditions, boolean ascending, int offset, int limit) {

    /** The fields a condition can name. {@link #TYPE}'s values: {@code PRIVATE_SNAPSHOT} (the caller's own), {@code SHARED_SNAPSHOT}. */
    public enum Field {
        SNAPSHOT_ID("snapshot_id"), NAME("name"), STATE("state"), DISK_USAGE("disk_usage"), PROJECT_ID("project_id"),
        DISK_ID("disk_id"), ZONE("zone"), TYPE(null);

        final String column;

        Field(String column) {
            this.column = column;
        }
    }

    /** Rows whose {@code field} is one of {@code values}. */
    public record Condition(Field field, List<String> values) {
        public Condition {
            values = List.copyOf(values);
        }
    }

    public static final String PRIVATE = "PRIVATE_SNAPSHOT";
    public static final String SHARED = "SHARED_SNAPSHOT";

    public SnapshotQuery {
        conditions = List.copyOf(conditions);
        if (offset < 0 || limit < 0) throw new IllegalArgumentException("offset/limit must be >= 0");
    }

    /** Every snapshot the caller sees (its own and those shared with it), or only {@code ids} when there are some. */
    public static SnapshotQuery all(List<String> ids) {
        List<Condition> only = ids.isEmpty() ? List.of() : List.of(new Condition(Field.SNAPSHOT_ID, ids));
        return new SnapshotQuery(only, true, 0, Integer.MAX_VALUE);
    }

    /** Whether rows of this type (own or shared) can match at all. */
    boolean admits(String type) {
        return conditions.stream().filter(c -> c.field() == Field.TYPE).allMatch(c -> c.values().contains(type));
    }

    /**
     * The conditions as SQL over table alias {@code s}, each starting with {@code AND}; their arguments
     * are added to {@code args}. {@link Field#TYPE} is left to {@link #admits} (it picks the branch).
     */
    String where(List<Object> args) {
        StringBuilder sql = new StringBuilder();
        for (Condition c : conditions) {
            if (c.field() == Field.TYPE) continue;
            List<Object> values = new ArrayList<>();
            for (String v : c.values()) {
                if (c.field() != Field.PROJECT_ID) values.add(v);
                else if (v.matches("-?\\d{1,18}")) values.add(Long.parseLong(v)); // anything else names no project
            }
            if (values.isEmpty()) {
                sql.append(" AND 1 = 0");
                continue;
            }
            sql.append(" AND s.").append(c.field().column).append(" IN (").append(String.join(", ", java.util.Collections.nCopies(values.size(), "?"))).append(')');
            args.addAll(values);
        }
        return sql.toString();
    }
}
