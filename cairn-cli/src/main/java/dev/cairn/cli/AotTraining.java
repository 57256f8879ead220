package dev.cairn.cli;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The training run behind the client's ahead-of-time cache ({@code bin/cairn} makes the cache from it
 * after a build). A cache holds the classes its training run loaded; a class missing from it is read
 * from the jar or the JDK's module image at every start, and from a cold page cache that read is most
 * of the client's start (docs/benchmarks.md). So the run takes the client's usual paths end to end —
 * signing, an HTTP round trip, the answer parsed, the progress bar drawn, a table printed — against a
 * loopback responder that answers with fixed Tencent-shaped responses. It touches no server and no
 * data: nothing it does has an effect outside this process and its temporary credentials file.
 */
public final class AotTraining {
    private AotTraining() {}

    public static void main(String[] args) throws IOException {
        System.exit(run());
    }

    /** Runs the training commands; returns 0 if they all succeeded. */
    static int run() throws IOException {
        try (ServerSocket server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            Thread.ofPlatform().daemon().name("aot-training-responder").start(() -> serve(server));
            Path credentials = Files.createTempFile("cairn-aot-training", ".json");
            try {
                Files.writeString(credentials, "{\"secretId\":\"AKIDtraining\",\"secretKey\":\"training\",\"endpoint\":\"http://127.0.0.1:"
                        + server.getLocalPort() + "\"}");
                String file = credentials.toString();
                int status = Main.run("--credentials", file, "snapshot", "create", "disk-training", "--wait");
                return status != 0 ? status : Main.run("--credentials", file, "disk", "list");
            } finally {
                Files.deleteIfExists(credentials);
            }
        }
    }

    private static void serve(ServerSocket server) {
        AtomicInteger describes = new AtomicInteger();
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                InputStream in = new BufferedInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                String action;
                while ((action = readRequest(in)) != null) { // keep-alive: requests until the client closes
                    byte[] body = answer(action, describes).getBytes(StandardCharsets.UTF_8);
                    out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.write(body);
                    out.flush();
                }
            } catch (IOException e) {
                // the training command gave up on this connection, or the socket closed at the end
            }
        }
    }

    /** Reads one request (headers and body); returns its {@code X-TC-Action}, or null at the end of the stream. */
    private static String readRequest(InputStream in) throws IOException {
        if (readLine(in) == null) return null; // the request line; none: the client closed
        String action = "";
        int length = 0;
        for (String line; (line = readLine(in)) != null && !line.isEmpty(); ) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            if (name.equals("x-tc-action")) action = value;
            if (name.equals("content-length")) length = Integer.parseInt(value);
        }
        return in.readNBytes(length).length == length ? action : null;
    }

    /** One line without its CR LF; null at the end of the stream. */
    private static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') if (c != '\r') b.append((char) c);
        return c < 0 && b.isEmpty() ? null : b.toString();
    }

    /** A fixed answer in the API's shape: a snapshot that is half done, then done; one disk. */
    private static String answer(String action, AtomicInteger describes) {
        String body = switch (action) {
            case "CreateSnapshot" -> "\"SnapshotId\":\"snap-training\"";
            case "DescribeSnapshots" -> {
                boolean done = describes.incrementAndGet() > 1;
                yield "\"TotalCount\":1,\"SnapshotSet\":[{\"SnapshotId\":\"snap-training\",\"DiskId\":\"disk-training\",\"SnapshotState\":\""
                        + (done ? "NORMAL" : "CREATING") + "\",\"Percent\":" + (done ? 100 : 50) + ",\"BytesRead\":" + (done ? 1 << 20 : 1 << 19) + "}]";
            }
            case "DescribeDisks" -> "\"TotalCount\":1,\"DiskSet\":[{\"DiskId\":\"disk-training\",\"DiskName\":\"training\",\"DiskSize\":10,"
                    + "\"DiskState\":\"UNATTACHED\",\"DiskType\":\"CLOUD_PREMIUM\",\"Placement\":{\"Zone\":\"ap-guangzhou-3\"}}]";
            default -> "";
        };
        return "{\"Response\":{" + body + (body.isEmpty() ? "" : ",") + "\"RequestId\":\"aot-training\"}}";
    }
}
