package dev.cairn.api;

import dev.cairn.control.Accounts;
import dev.cairn.control.Caller;
import dev.cairn.control.CloudControl;
import dev.cairn.control.Quotas;
import dev.cairn.control.TestClock;
import java.time.Duration;
import java.time.format.DateTimeParseException;

/**
 * Cairn's own actions, served beside Tencent's at the same endpoint (names Tencent does not use).
 * {@code CreateAccount} (admin only): {@code {"Name": …}} → {@code {"AccountId": "100000000002",
 * "SecretId": …, "SecretKey": …}}. {@code DescribeClock} → {@code {"Now": ISO-8601 UTC}} and
 * {@code AdvanceClock} (admin only) {@code {"Duration": "PT26H"}} → {@code {"Now": …}}: only on a server
 * started with {@code --test-clock}; otherwise {@code UnsupportedOperation}. Advancing fires every
 * auto-snapshot policy due in the skipped time, in order, and answers once they have run. Thread-safe.
 */
final class CairnActions {
    private final Accounts accounts;
    private final CloudControl control;

    CairnActions(CloudControl control) {
        this.accounts = control.accounts();
        this.control = control;
    }

    record ClockResult(String now) {}

    Object describeClock(Caller caller, Params p) {
        p.end();
        return new ClockResult(testClock().instant().toString());
    }

    Object advanceClock(Caller caller, Params p) {
        String text = p.requiredString("Duration");
        p.end();
        if (!caller.admin()) throw new ApiError("UnauthorizedOperation", "only the admin account may move the clock");
        Duration step;
        try {
            step = Duration.parse(text);
        } catch (DateTimeParseException e) {
            throw new ApiError("InvalidParameterValue", "`Duration` must be an ISO-8601 duration such as PT26H; got `" + text + "`");
        }
        testClock();
        try {
            return new ClockResult(control.advanceClock(step).toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError("InternalError", "interrupted while advancing the clock");
        }
    }

    private TestClock testClock() {
        return control.testClock().orElseThrow(() -> new ApiError("UnsupportedOperation",
                "this server runs on the system clock; start it with --test-clock to control time"));
    }

    record QuotaView(String name, long limit, long used, boolean custom, String counts) {}

    record QuotasResult(String accountId, java.util.List<QuotaView> quotaSet) {}

    /** DescribeAccountQuotas {@code {"AccountId": …}} (default: the caller's; another's: admin only). */
    Object describeQuotas(Caller caller, Params p) {
        long account = accountId(caller, p);
        p.end();
        return new QuotasResult(Long.toString(account), control.quotas().describe(caller, account).stream()
                .map(u -> new QuotaView(u.quota().wireName(), u.limit(), u.used(), u.custom(), u.quota().counts())).toList());
    }

    /** ModifyAccountQuota (admin): {@code {"AccountId", "Name", "Limit"}} or {@code "Reset": true} for the default. */
    Object modifyQuota(Caller caller, Params p) {
        long account = accountId(caller, p);
        Quotas.Quota quota = Quotas.Quota.named(p.requiredString("Name"));
        boolean reset = p.bool("Reset").orElse(false);
        Long limit = p.integer("Limit", -1, Long.MAX_VALUE).orElse(null);
        p.end();
        if (reset == (limit != null)) throw new ApiError("InvalidParameter", "give either `Limit` or `Reset`: true.");
        control.quotas().modify(caller, account, quota, reset ? null : limit);
        return new CbsActions.Empty();
    }

    private static long accountId(Caller caller, Params p) {
        String id = p.string("AccountId").orElse(Long.toString(caller.accountId()));
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw new ApiError("InvalidParameterValue", "`AccountId` must be an account's numeric id, got `" + Params.clip(id) + "`.");
        }
    }

    record BillLine(String snapshotId, String diskId, double giBHours, double cost) {}

    record AccountBill(String accountId, double giBHours, double cost, java.util.List<BillLine> snapshotSet) {}

    record BillResult(String month, String currency, double pricePerGiBMonth, double hoursPerMonth, java.util.List<AccountBill> accountSet) {}

    /** DescribeSnapshotBilling {@code {"Month": "2026-12", "AccountId": …}}: the month's bill (every account for the admin). */
    Object describeBilling(Caller caller, Params p) {
        String text = p.requiredString("Month");
        Long account = p.has("AccountId") ? accountId(caller, p) : null;
        p.end();
        java.time.YearMonth month;
        try {
            month = java.time.YearMonth.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
            throw new ApiError("InvalidParameterValue", "`Month` must look like 2026-12, got '" + Params.clip(text) + "'.");
        }
        dev.cairn.control.Billing billing = control.billing();
        return new BillResult(month.toString(), billing.prices().currency(), billing.prices().perGibMonth(), 730,
                billing.report(caller, month, account).stream().map(a -> new AccountBill(Long.toString(a.accountId()), a.gibHours(), a.cost(),
                        a.snapshots().stream().map(l -> new BillLine(l.snapshotId(), l.diskId(), l.gibHours(), l.cost())).toList())).toList());
    }

    record EndpointsResult(String nbd) {}

    /** DescribeEndpoints: where this node serves disks over NBD (for clients that write disks, e.g. image import). */
    Object describeEndpoints(Caller caller, Params p) {
        p.end();
        return new EndpointsResult(control.nbdEndpoint());
    }

    /** PublishImage (admin): {@code {"ImageId": …}} — every account may then launch instances from it. */
    Object publishImage(Caller caller, Params p) {
        String id = p.id("ImageId", CvmActions.IMAGE_ID, "InvalidImageId.Malformed").orElseThrow(() -> ApiError.missing("ImageId"));
        p.end();
        control.images().publish(caller, id);
        return new CbsActions.Empty();
    }

    record CreateAccountResult(String accountId, String secretId, String secretKey) {}

    Object createAccount(Caller caller, Params p) {
        String name = p.requiredString("Name");
        p.end();
        Accounts.Credentials c = accounts.createAccount(caller, name);
        return new CreateAccountResult(Long.toString(c.accountId()), c.secretId(), c.secretKey());
    }
}
