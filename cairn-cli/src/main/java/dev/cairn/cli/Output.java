package dev.cairn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Prints API results as JSON or as an aligned text table. */
final class Output {
    enum Format { table, json }

    /** A table column: its heading and a JSON path ("Placement.Zone") into each row. */
    record Column(String heading, String path) {}

    private final Format format;
    private final ObjectMapper json;
    private final PrintStream out;

    Output(Format format, ObjectMapper json, PrintStream out) {
        this.format = format;
        this.json = json;
        this.out = out;
    }

    /** Prints {@code rows} (a JSON array) as a table, or the whole {@code response} as JSON. */
    void rows(JsonNode response, JsonNode rows, List<Column> columns) throws java.io.IOException {
        if (format == Format.json) {
            out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(response));
            return;
        }
        List<String[]> cells = new ArrayList<>();
        cells.add(columns.stream().map(Column::heading).toArray(String[]::new));
        for (JsonNode row : rows) {
            cells.add(columns.stream().map(c -> text(at(row, c.path()))).toArray(String[]::new));
        }
        int[] widths = new int[columns.size()];
        for (String[] r : cells) for (int i = 0; i < r.length; i++) widths[i] = Math.max(widths[i], r[i].length());
        for (String[] r : cells) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                if (i > 0) line.append("  ");
                line.append(i == r.length - 1 ? r[i] : String.format("%-" + widths[i] + "s", r[i]));
            }
            out.println(line.toString().stripTrailing());
        }
    }

    /** Prints a single object: JSON, or "Key: value" lines for its scalar fields. */
    void object(JsonNode node) throws java.io.IOException {
        if (format == Format.json) {
            out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(node));
            return;
        }
        node.properties().forEach(e -> out.println(e.getKey() + ": " + text(e.getValue())));
    }

    private static JsonNode at(JsonNode row, String path) {
        JsonNode n = row;
        for (String part : path.split("\\.")) n = n.path(part);
        return n;
    }

    private static String text(JsonNode n) {
        if (n.isMissingNode() || n.isNull()) return "-";
        if (n.isArray()) {
            List<String> parts = new ArrayList<>();
            n.forEach(e -> parts.add(text(e)));
            return parts.isEmpty() ? "-" : String.join(",", parts);
        }
        return n.isValueNode() ? n.asText() : n.toString();
    }
}
