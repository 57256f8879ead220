package dev.cairn.api;

/**
 * A request the API refuses before or instead of reaching the domain: bad signature, bad parameter,
 * unknown action. {@code code} is Tencent's error code; the message names the field and is shown to
 * the client as {@code Error.Message}.
 */
final class ApiError extends RuntimeException {
    private final String code;

    ApiError(String code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    String code() {
        return code;
    }

    static ApiError missing(String field) {
        return new ApiError("MissingParameter", "The request is missing a required parameter `" + field + "`.");
    }

    static ApiError type(String field, String expected) {
        return new ApiError("InvalidParameter", "The parameter `" + field + "` must be " + expected + ".");
    }

    static ApiError value(String field, String why) {
        return new ApiError("InvalidParameterValue", "The value of parameter `" + field + "` is invalid: " + why);
    }

    static ApiError unknown(String field) {
        return new ApiError("UnknownParameter", "The parameter `" + field + "` is not recognized.");
    }

    static ApiError unsupported(String field, String why) {
        return new ApiError("UnsupportedOperation", "`" + field + "` is not supported by Cairn: " + why);
    }

    static ApiError auth(String code, String message) {
        return new ApiError("AuthFailure." + code, message);
    }
}
