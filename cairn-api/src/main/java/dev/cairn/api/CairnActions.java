package dev.cairn.api;

import dev.cairn.control.Accounts;
import dev.cairn.control.Caller;

/**
 * Cairn's own actions, served beside Tencent's at the same endpoint (names Tencent does not use).
 * {@code CreateAccount} (admin only): {@code {"Name": …}} → {@code {"AccountId": "100000000002",
 * "SecretId": …, "SecretKey": …}}. Thread-safe.
 */
final class CairnActions {
    private final Accounts accounts;

    CairnActions(Accounts accounts) {
        this.accounts = accounts;
    }

    record CreateAccountResult(String accountId, String secretId, String secretKey) {}

    Object createAccount(Caller caller, Params p) {
        String name = p.requiredString("Name");
        p.end();
        Accounts.Credentials c = accounts.createAccount(caller, name);
        return new CreateAccountResult(Long.toString(c.accountId()), c.secretId(), c.secretKey());
    }
}
