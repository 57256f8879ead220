package dev.cairn.api;

import dev.cairn.control.Scheduler;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * The scheduler on /metrics: firings planned, runs by result, retries, and the lag between a firing's
 * due time and the start of its run (service time; under the test clock it is 0 by construction); the
 * billing meter's hours; cross-region copies ended and bytes sent.
 */
final class SchedulerMetrics {
    private SchedulerMetrics() {}

    static void register(PrometheusRegistry registry, dev.cairn.control.CloudControl control) {
        Scheduler scheduler = control.scheduler();
        CounterWithCallback.builder().name("cairn_scheduler_firings_total")
                .help("Auto-snapshot policy firings planned by this node (one per policy and due time)")
                .callback(cb -> cb.call(scheduler.stats().firingsPlanned())).register(registry);
        CounterWithCallback.builder().name("cairn_scheduler_runs_total")
                .help("Policy runs (one per firing and disk) by result: started, success, failed (attempts used up), skipped")
                .labelNames("result").callback(cb -> {
                    Scheduler.Stats s = scheduler.stats();
                    cb.call(s.runsStarted(), "started");
                    cb.call(s.runsSucceeded(), "success");
                    cb.call(s.runsFailed(), "failed");
                    cb.call(s.runsSkipped(), "skipped");
                }).register(registry);
        CounterWithCallback.builder().name("cairn_scheduler_retries_total")
                .help("Failed policy run attempts that were scheduled to run again")
                .callback(cb -> cb.call(scheduler.stats().retries())).register(registry);
        CounterWithCallback.builder().name("cairn_billing_metered_hours_total")
                .help("Service-clock hours this node metered for billing (each hour is metered once across nodes)")
                .callback(cb -> cb.call(control.billing().hoursMetered())).register(registry);
        CounterWithCallback.builder().name("cairn_snapshot_copies_total")
                .help("Cross-region copies sent from this node that ended, by result (done, failed)")
                .labelNames("result").callback(cb -> {
                    var c = control.snapshotCopies().stats();
                    cb.call(c.copiesDone(), "done");
                    cb.call(c.copiesFailed(), "failed");
                }).register(registry);
        CounterWithCallback.builder().name("cairn_snapshot_copy_sent_bytes_total")
                .help("Plaintext bytes of chunks this node sent to other regions (only chunks they lacked)")
                .callback(cb -> cb.call(control.snapshotCopies().stats().bytesSent())).register(registry);
        Histogram lag = Histogram.builder().name("cairn_scheduler_lag_seconds")
                .help("From a firing's due time to the start of its run")
                .classicUpperBounds(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600).register(registry);
        scheduler.setLagObserver(ms -> lag.observe(ms / 1000.0));
    }
}
