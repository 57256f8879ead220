package dev.cairn.repository;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The JDK primitives the format uses, in one place: SHA-256, HMAC-SHA256, AES-256-GCM (12-byte nonce,
 * 16-byte tag), PBKDF2-HMAC-SHA256, and master-key wrapping ({@code docs/repository-format.md} §3).
 * Stateless; every call makes its own JCA objects, so it is thread-safe.
 */
final class Crypto {

    static final int NONCE_BYTES = 12;
    static final int TAG_BYTES = 16;
    static final int KEY_BYTES = 32;
    static final int MIN_PBKDF2_ITERATIONS = 1_000;

    private static final SecureRandom RANDOM = new SecureRandom();

    private Crypto() {}

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK must provide SHA-256", e);
        }
    }

    static Mac hmacSha256(byte[] key) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK must provide HmacSHA256", e);
        }
    }

    static Cipher gcm(int mode, byte[] key, byte[] nonce) {
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BYTES * 8, nonce));
            return cipher;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK must provide AES/GCM/NoPadding", e);
        }
    }

    /** The key-encryption key for a passphrase or key file. */
    static byte[] deriveKek(RepositoryKey key, RepositoryConfig.Kdf kdf, int iterations, byte[] salt) throws IOException {
        return switch (key) {
            case RepositoryKey.Passphrase p -> {
                if (kdf != RepositoryConfig.Kdf.PBKDF2_HMAC_SHA256) throw new WrongKeyException("this repository is unlocked with a key file, not a passphrase");
                char[] chars = p.chars();
                PBEKeySpec spec = new PBEKeySpec(chars, salt, iterations, KEY_BYTES * 8);
                try {
                    yield SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
                } catch (GeneralSecurityException e) {
                    throw new IllegalStateException("the JDK must provide PBKDF2WithHmacSHA256", e);
                } finally {
                    spec.clearPassword();
                    Arrays.fill(chars, '\0');
                }
            }
            case RepositoryKey.KeyFile f -> {
                if (kdf != RepositoryConfig.Kdf.KEYFILE_HMAC_SHA256) throw new WrongKeyException("this repository is unlocked with a passphrase, not a key file");
                byte[] secret;
                try {
                    secret = Files.readAllBytes(f.path());
                } catch (NoSuchFileException e) {
                    throw new WrongKeyException("key file " + f.path() + " does not exist");
                }
                int end = secret.length;
                while (end > 0 && Character.isWhitespace(secret[end - 1])) end--;
                if (end < 32) throw new WrongKeyException("key file " + f.path() + " holds " + end + " bytes; at least 32 are needed");
                byte[] trimmed = Arrays.copyOf(secret, end);
                Arrays.fill(secret, (byte) 0);
                byte[] kek = hmacSha256(trimmed).doFinal(salt);
                Arrays.fill(trimmed, (byte) 0);
                yield kek;
            }
        };
    }

    /** nonce(12) || AES-256-GCM(material) || tag(16), with {@code aad} as associated data. */
    static byte[] wrap(byte[] kek, byte[] material, byte[] aad) {
        byte[] nonce = randomBytes(NONCE_BYTES);
        Cipher c = gcm(Cipher.ENCRYPT_MODE, kek, nonce);
        c.updateAAD(aad);
        try {
            byte[] sealed = c.doFinal(material);
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /** Reverses {@link #wrap}; a tag failure means the wrong key. */
    static byte[] unwrap(byte[] kek, byte[] wrapped, byte[] aad, String what) throws WrongKeyException {
        if (wrapped.length < NONCE_BYTES + TAG_BYTES) throw new WrongKeyException("wrapped master key is too short");
        Cipher c = gcm(Cipher.DECRYPT_MODE, kek, Arrays.copyOf(wrapped, NONCE_BYTES));
        c.updateAAD(aad);
        try {
            return c.doFinal(wrapped, NONCE_BYTES, wrapped.length - NONCE_BYTES);
        } catch (AEADBadTagException e) {
            throw new WrongKeyException("wrong " + what + ": it does not unlock this repository's master key");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption failed", e);
        }
    }

    /** First 8 bytes of SHA-256 of a readable name, as a big-endian long (PBS-style magic). */
    static long magic(String name) {
        byte[] d = sha256().digest(name.getBytes(StandardCharsets.US_ASCII));
        long m = 0;
        for (int i = 0; i < 8; i++) m = (m << 8) | (d[i] & 0xff);
        return m;
    }
}
