package dev.cairn.control;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.Optional;

/**
 * Accounts and their API keys.
 *
 * <p><b>What it keeps true.</b> Account ids are Tencent-style UINs handed out in order from
 * {@value #FIRST_ACCOUNT_ID}; exactly one admin account exists once {@link #bootstrapAdmin} has run,
 * however many nodes start at once (the insert runs in a serializable catalog transaction); an
 * account and its first key are created together or not at all.
 *
 * <p><b>Threads.</b> Thread-safe; all state is in the catalog.
 */
public final class Accounts {
    public static final long FIRST_ACCOUNT_ID = 100000000001L;
    public static final String ADMIN_NAME = "admin";

    private final Catalog catalog;
    private final InstantSource clock;

    /** An account's API key pair, as written to {@code credentials.json}. */
    public record Credentials(long accountId, String secretId, String secretKey) {
        @Override
        public String toString() {
            return "Credentials[accountId=" + accountId + ", secretId=" + secretId + ", secretKey=***]";
        }
    }

    /** What the signature check needs: the key and whose it is. */
    public record ApiKey(String secretId, String secretKey, long accountId, String accountName, boolean admin) {
        @Override
        public String toString() {
            return "ApiKey[" + secretId + " account=" + accountId + (admin ? " admin" : "") + "]";
        }
    }

    public Accounts(Catalog catalog, InstantSource clock) {
        this.catalog = catalog;
        this.clock = clock;
    }

    /** Creates the admin account and its key on first start; later calls return the existing key. */
    public Credentials bootstrapAdmin() {
        return catalog.write(tx -> {
            Optional<Credentials> existing = tx.first("""
                    SELECT c.account_id, c.secret_id, c.secret_key FROM credentials c
                    JOIN accounts a ON a.account_id = c.account_id
                    WHERE a.is_admin = ? AND c.enabled = ? ORDER BY a.account_id, c.created_at, c.secret_id""",
                    Accounts::credentials, true, true);
            if (existing.isPresent()) return existing.get();
            return insertAccount(tx, ADMIN_NAME, true);
        });
    }

    /** Creates an account with a new key. Only the admin may. Names are unique, 1–64 characters. */
    public Credentials createAccount(Caller caller, String name) {
        if (!caller.admin()) throw new ControlException.Unauthorized("only the admin account may create accounts");
        if (name == null || name.isBlank() || name.length() > 64 || name.chars().anyMatch(Character::isISOControl)) {
            throw new ControlException.InvalidValue("Name", ControlException.InvalidValue.Reason.VALUE,
                    "`Name` must be 1 to 64 printable characters");
        }
        return catalog.write(tx -> {
            if (tx.count("SELECT COUNT(*) FROM accounts WHERE name = ?", name) > 0) {
                throw new ControlException.InvalidValue("Name", ControlException.InvalidValue.Reason.DUPLICATE,
                        "an account named `" + name + "` already exists");
            }
            return insertAccount(tx, name, false);
        });
    }

    /**
     * Re-creates an account the catalog lost (a rebuild from the repository found its snapshots), with
     * its number, the name {@code restored-<number>} and a new key; null if it exists already.
     */
    Credentials restoreAccount(Catalog.Tx tx, long accountId) throws SQLException {
        if (tx.count("SELECT COUNT(*) FROM accounts WHERE account_id = ?", accountId) > 0) return null;
        long now = clock.millis();
        tx.update("INSERT INTO accounts (account_id, name, is_admin, created_at) VALUES (?, ?, ?, ?)", accountId, "restored-" + accountId, false, now);
        var creds = new Credentials(accountId, Ids.secretId(), Ids.secretKey());
        tx.update("INSERT INTO credentials (secret_id, account_id, secret_key, enabled, created_at) VALUES (?, ?, ?, ?, ?)",
                creds.secretId(), accountId, creds.secretKey(), true, now);
        return creds;
    }

    /** The enabled key with this SecretId, if any. */
    public Optional<ApiKey> findKey(String secretId) {
        return catalog.read(tx -> tx.first("""
                SELECT c.secret_id, c.secret_key, a.account_id, a.name, a.is_admin FROM credentials c
                JOIN accounts a ON a.account_id = c.account_id WHERE c.secret_id = ? AND c.enabled = ?""",
                rs -> new ApiKey(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4), rs.getBoolean(5)),
                secretId, true));
    }

    private Credentials insertAccount(Catalog.Tx tx, String name, boolean admin) throws SQLException {
        long id = Math.max(FIRST_ACCOUNT_ID, tx.count("SELECT MAX(account_id) FROM accounts") + 1);
        long now = clock.millis();
        tx.update("INSERT INTO accounts (account_id, name, is_admin, created_at) VALUES (?, ?, ?, ?)", id, name, admin, now);
        var creds = new Credentials(id, Ids.secretId(), Ids.secretKey());
        tx.update("INSERT INTO credentials (secret_id, account_id, secret_key, enabled, created_at) VALUES (?, ?, ?, ?, ?)",
                creds.secretId(), id, creds.secretKey(), true, now);
        return creds;
    }

    private static Credentials credentials(ResultSet rs) throws SQLException {
        return new Credentials(rs.getLong(1), rs.getString(2), rs.getString(3));
    }
}
