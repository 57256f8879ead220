package dev.cairn.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Parameter validation codes and messages, and Tencent's paging and filter rules. */
class ParamsTest {
    static Params params(String json) throws Exception {
        JsonNode n = TencentApi.JSON.readTree(json);
        return Params.of(n);
    }

    static void assertError(String code, String messagePart, Runnable r) {
        assertThatThrownBy(r::run).isInstanceOfSatisfying(ApiError.class, e -> {
            assertThat(e.code()).isEqualTo(code);
            assertThat(e.getMessage()).contains(messagePart);
        });
    }

    @Test
    void typesMissingAndUnknown() throws Exception {
        Params p = params("{\"Name\":\"x\",\"Size\":10,\"Flag\":true,\"Ids\":[\"a\",\"b\"],\"Nothing\":null}");
        assertThat(p.requiredString("Name")).isEqualTo("x");
        assertThat(p.integer("Size")).contains(10L);
        assertThat(p.bool("Flag")).contains(true);
        assertThat(p.strings("Ids")).contains(List.of("a", "b"));
        assertThat(p.string("Nothing")).isEmpty();
        p.end();

        assertError("MissingParameter", "`DiskId`", () -> run(() -> params("{}").requiredString("DiskId")));
        assertError("InvalidParameter", "`Size`", () -> run(() -> params("{\"Size\":\"10\"}").integer("Size")));
        assertError("InvalidParameter", "`Size`", () -> run(() -> params("{\"Size\":1.5}").integer("Size")));
        assertError("InvalidParameter", "`Size`", () -> run(() -> params("{\"Size\":99999999999999999999999}").integer("Size")));
        assertError("InvalidParameter", "`Flag`", () -> run(() -> params("{\"Flag\":\"true\"}").bool("Flag")));
        assertError("InvalidParameter", "`Ids.1`", () -> run(() -> params("{\"Ids\":[\"a\",2]}").strings("Ids")));
        assertError("UnknownParameter", "`Colour`", () -> run(() -> { params("{\"Colour\":\"red\"}").end(); return null; }));
        assertError("InvalidParameter", "JSON object", () -> run(() -> params("[1]")));
    }

    @Test
    void nestedPathsAppearInMessages() throws Exception {
        assertError("MissingParameter", "`Placement.Zone`", () -> run(() -> params("{\"Placement\":{}}").requiredObject("Placement").requiredString("Zone")));
        assertError("UnknownParameter", "`DataDisks.1.Colour`", () -> run(() ->
                params("{\"DataDisks\":[{\"DiskSize\":1},{\"DiskSize\":2,\"Colour\":1}]}").objects("DataDisks", d -> d.integer("DiskSize"))));
        assertError("InvalidParameterValue", "`Ids.0`", () -> run(() ->
                params("{\"Ids\":[\"disk-x\"]}").ids("Ids", Pattern.compile("disk-[a-z0-9]{8}"), "InvalidParameterValue")));
        assertError("UnsupportedOperation", "`Encrypt`", () -> run(() -> { params("{\"Encrypt\":\"ENCRYPT\"}").unsupported("no", "Encrypt"); return null; }));
        Params off = params("{\"Encrypt\":false,\"Tags\":[],\"Throughput\":0}");
        off.unsupported("no", "Encrypt", "Tags", "Throughput");
        off.end();
    }

    @Test
    void pagingAndFilters() throws Exception {
        assertThat(Listing.limit(params("{}"))).isEqualTo(20);
        assertThat(Listing.offset(params("{}"))).isZero();
        assertThat(Listing.limit(params("{\"Limit\":100}"))).isEqualTo(100);
        assertError("InvalidParameterValue.LimitExceeded", "Limit", () -> run(() -> Listing.limit(params("{\"Limit\":101}"))));
        assertError("InvalidParameterValue", "Limit", () -> run(() -> Listing.limit(params("{\"Limit\":-1}"))));
        assertError("InvalidParameterValue", "Offset", () -> run(() -> Listing.offset(params("{\"Offset\":-1}"))));
        var filters = Listing.filters(params("{\"Filters\":[{\"Name\":\"zone\",\"Values\":[\"a\",\"b\"]}]}"), 10, 5);
        assertThat(filters).containsExactly(new Listing.Filter("zone", List.of("a", "b")));
        assertError("InvalidFilterValue.LimitExceeded", "Filters.0.Values",
                () -> run(() -> Listing.filters(params("{\"Filters\":[{\"Name\":\"zone\",\"Values\":[\"1\",\"2\",\"3\"]}]}"), 10, 2)));
        assertError("MissingParameter", "Filters.0.Values", () -> run(() -> Listing.filters(params("{\"Filters\":[{\"Name\":\"zone\"}]}"), 10, 5)));
        var p = Listing.<String>all(filters, f -> Listing.anyOf(f, s -> s));
        assertThat(p.test("a")).isTrue();
        assertThat(p.test("c")).isFalse();
    }

    @Test
    void errorMappingCoversDomainFailures() {
        var e = TencentApi.toTencent(new dev.cairn.control.ControlException.InstanceConflict("ins-1", dev.cairn.control.InstanceState.TERMINATING,
                false, "m"), "r");
        assertThat(e.code()).isEqualTo("UnsupportedOperation.InstanceStateTerminating");
        assertThat(TencentApi.toTencent(new IllegalStateException("secret detail"), "req-1"))
                .isEqualTo(new TencentApi.TcError("InternalError", "An internal error occurred; quote request req-1."));
    }

    interface Body {
        Object run() throws Exception;
    }

    static void run(Body b) {
        try {
            b.run();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
}
