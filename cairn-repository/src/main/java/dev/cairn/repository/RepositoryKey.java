package dev.cairn.repository;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * What unlocks an encrypted repository's master key: a passphrase (PBKDF2-HMAC-SHA256) or a key file.
 * Pass {@code null} instead to create or open an unencrypted repository.
 */
public sealed interface RepositoryKey permits RepositoryKey.Passphrase, RepositoryKey.KeyFile {

    /** A passphrase; the characters are used as UTF-8. {@link #toString()} hides them. */
    record Passphrase(char[] chars) implements RepositoryKey {
        public Passphrase {
            if (chars == null || chars.length == 0) throw new IllegalArgumentException("passphrase must not be empty");
            chars = chars.clone();
        }

        @Override
        public char[] chars() {
            return chars.clone();
        }

        @Override
        public String toString() {
            return "Passphrase[***]";
        }
    }

    /** A key file: at least 32 bytes after trailing white space is removed ({@link #generateKeyFile} writes 64 hex digits). */
    record KeyFile(Path path) implements RepositoryKey {
        public KeyFile {
            if (path == null) throw new IllegalArgumentException("key file path is required");
        }
    }

    static RepositoryKey passphrase(String passphrase) {
        return new Passphrase(passphrase.toCharArray());
    }

    static RepositoryKey keyFile(Path path) {
        return new KeyFile(path);
    }

    /** Writes a new key file of 256 random bits (64 hex digits and a newline), mode 0600; refuses to overwrite. */
    static KeyFile generateKeyFile(Path path) throws IOException {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        byte[] text = (HexFormat.of().formatHex(secret) + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try {
            Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(path); // not a POSIX file system: default permissions
        }
        Files.write(path, text, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        return new KeyFile(path);
    }
}
