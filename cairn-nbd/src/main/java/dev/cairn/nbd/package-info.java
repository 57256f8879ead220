/**
 * Cairn's NBD server (fixed-newstyle NBD over TCP).
 *
 * <p>Entry points: {@link dev.cairn.nbd.NbdServer} (listener, connection bookkeeping, shutdown),
 * {@link dev.cairn.nbd.ExportRegistry} (what the rest of Cairn provides), {@link dev.cairn.nbd.NbdMetrics}.
 * One {@link dev.cairn.nbd.NbdConnection} per client walks GREETING → OPTIONS → TRANSMISSION → CLOSED;
 * {@code Negotiation} handles the options phase (one method per option) and {@code Transmission} the
 * requests (validate, then execute, then reply). {@code docs/nbd.md} lists what is served.
 */
package dev.cairn.nbd;
