/**
 * Snapshots of live volumes: {@link dev.cairn.snapshot.SnapshotCapture} reads a capture's blocks into
 * a repository manifest; {@link dev.cairn.snapshot.BaseCache} serves manifests to overlay disks and
 * snapshot exports from one shared sparse file per manifest; {@link dev.cairn.snapshot.Flatten} makes
 * a layered disk independent at a bounded rate.
 */
package dev.cairn.snapshot;
