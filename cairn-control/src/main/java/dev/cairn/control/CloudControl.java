package dev.cairn.control;

import dev.cairn.control.ControlException.DiskConflict;
import dev.cairn.control.ControlException.InstanceConflict;
import dev.cairn.control.ControlException.InvalidValue;
import dev.cairn.control.ControlException.NotFound;
import dev.cairn.control.ControlException.QuotaExceeded;
import dev.cairn.control.ControlException.ResourceKind;
import dev.cairn.volume.Volume;
import dev.cairn.volume.VolumeManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The control plane for instances and cloud disks: what the API's actions do, scoped to the calling
 * account. An account sees and touches only its own resources; another account's id is "not found".
 *
 * <p><b>What it keeps true.</b>
 * <ul>
 * <li>Every change of several rows (instances with their disks, batch attach, …) is one catalog
 *     transaction; batch actions validate every item first and change all or nothing.</li>
 * <li>A disk's file exists (in the {@link VolumeManager}) before its row is committed; a failed
 *     create removes the files it made. (A crash between the two leaves at most an orphan file,
 *     never a disk without data.)</li>
 * <li>A disk is <em>exportable</em> over NBD iff it is ATTACHED (or EXPANDING while attached) to an
 *     instance whose state {@linkplain InstanceState#servesDisks serves disks}. Every change that ends
 *     that is committed and then reported through {@code exportRevoked} while holding the export gate,
 *     so {@link #openExport} never hands out a volume for a disk that was revoked before it asked.</li>
 * <li>Transitional states (ATTACHING, DETACHING, EXPANDING, PENDING, STARTING, STOPPING, REBOOTING,
 *     TERMINATING) are committed by the action, which returns at once as Tencent's does; a
 *     {@link Transitions} task then finishes them. The same tasks run at start-up for whatever a
 *     crash left half-way, and every step is idempotent.</li>
 * </ul>
 *
 * <p><b>Threads.</b> Thread-safe. Actions run on the caller's thread; background completions on
 * {@link Transitions}' bounded executor. Time comes only from the injected {@link InstantSource}.
 */
public final class CloudControl implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CloudControl.class);
    static final String UNNAMED = "未命名"; // Tencent's default name ("Untitled")
    static final long GIB = 1L << 30;

    private final Catalog catalog;
    private final VolumeManager volumes;
    private final Region region;
    private final Limits limits;
    private final InstantSource clock;
    private final Accounts accounts;
    private final Transitions transitions;
    private final BackgroundWork background = new BackgroundWork();
    private final SnapshotService snapshots;
    private final Rollbacks rollbacks;
    private final RepositoryMaintenance repository;
    private final ServerHooks hooks;
    private final Quotas quotas;
    private final SnapshotShares shares;
    private final SnapshotLocks locks;
    private final Billing billing;
    private final ImageService images;
    private final PolicyService policies;
    private final SnapshotCopies copies;
    private final CopyReceiver copyReceiver;
    private final Scheduler scheduler;
    private final ReentrantReadWriteLock exportGate = new ReentrantReadWriteLock();
    private volatile Consumer<String> exportRevoked = id -> {};

    // ---- request values ----

    /**
     * CreateDisks: {@code count} disks; with {@link NewDisks#attachTo} the disks start ATTACHING to that
     * instance; with {@code snapshotId} they are clones of that snapshot ({@code sizeGib} 0: its size).
     */
    public record NewDisks(String zone, long projectId, DiskType diskType, long sizeGib, String name, int count,
                           String attachTo, boolean deleteWithInstance, long deleteSnapshot, String clientToken, String snapshotId) {
        public NewDisks(String zone, long projectId, DiskType diskType, long sizeGib, String name, int count,
                        String attachTo, boolean deleteWithInstance, long deleteSnapshot, String clientToken) {
            this(zone, projectId, diskType, sizeGib, name, count, attachTo, deleteWithInstance, deleteSnapshot, clientToken, null);
        }
    }

    /** One disk of RunInstances (system or data). */
    public record DiskSpec(DiskType diskType, long sizeGib, String name, boolean deleteWithInstance) {}

    /** RunInstances. */
    public record NewInstances(String zone, long projectId, String imageId, String instanceType, String name, int count,
                               DiskSpec systemDisk, List<DiskSpec> dataDisks, String clientToken, boolean dryRun) {
        public NewInstances {
            dataDisks = dataDisks == null ? List.of() : List.copyOf(dataDisks);
        }
    }

    /** ModifyDiskAttributes: null fields stay as they are. */
    public record DiskChanges(String name, Boolean portable, Boolean deleteWithInstance, Long projectId, DiskType diskType) {}

    /** DescribeInstancesDiskNum: data disks attached to an instance and how many it may have. */
    public record AttachCount(String instanceId, long attached, long max) {}

    /** A control plane without snapshots (their actions answer that no repository is configured). */
    public CloudControl(Catalog catalog, VolumeManager volumes, Region region, Limits limits, InstantSource clock) {
        this(catalog, volumes, null, region, limits, clock, Rollbacks.DEFAULT_FLATTEN_BYTES_PER_SECOND);
    }

    /**
     * @param engine the node's snapshot engine over {@code volumes} and the repository, or null
     * @param flattenBytesPerSecond rate limit of background flattens (≤ 0: unlimited)
     */
    public CloudControl(Catalog catalog, VolumeManager volumes, dev.cairn.snapshot.SnapshotEngine engine, Region region, Limits limits,
                        InstantSource clock, long flattenBytesPerSecond) {
        this(catalog, volumes, engine, region, limits, clock, flattenBytesPerSecond, ServerHooks.none());
    }

    /** @param hooks the consistency hooks the operator installed for auto-snapshot policies */
    public CloudControl(Catalog catalog, VolumeManager volumes, dev.cairn.snapshot.SnapshotEngine engine, Region region, Limits limits,
                        InstantSource clock, long flattenBytesPerSecond, ServerHooks hooks) {
        this.catalog = catalog;
        this.volumes = volumes;
        this.region = region;
        this.limits = limits;
        this.clock = clock;
        this.accounts = new Accounts(catalog, clock);
        this.snapshots = new SnapshotService(this, catalog, engine, clock, background);
        this.rollbacks = new Rollbacks(this, catalog, engine, clock, flattenBytesPerSecond, background, snapshots);
        this.repository = new RepositoryMaintenance(this, catalog, clock, snapshots);
        this.transitions = new Transitions(catalog, volumes, clock, rollbacks::stopFlatten, snapshots::release);
        this.hooks = hooks;
        this.quotas = new Quotas(catalog, limits, clock);
        this.shares = new SnapshotShares(this, catalog, clock);
        this.locks = new SnapshotLocks(this, catalog, clock);
        this.billing = new Billing(this, catalog, clock, region.prices());
        this.images = new ImageService(this, catalog, clock);
        this.policies = new PolicyService(this, catalog, clock, hooks);
        this.copies = new SnapshotCopies(this, catalog, snapshots, clock, background);
        this.copyReceiver = new CopyReceiver(this, catalog, snapshots, clock);
        this.scheduler = newScheduler("node-" + ProcessHandle.current().pid() + "-" + Integer.toHexString(new java.util.Random().nextInt()),
                java.time.Duration.ofSeconds(30), Scheduler.Faults.NONE);
        transitions.recover();
        snapshots.recover();
        rollbacks.recover();
        copyReceiver.recover();
        snapshots.startExpiry(java.time.Duration.ofSeconds(2));
        scheduler.start();
    }

    /** A scheduler worker over this control plane (the node runs one; tests run several, as several nodes would). */
    Scheduler newScheduler(String worker, java.time.Duration lease, Scheduler.Faults faults) {
        return new Scheduler(this, catalog, clock, snapshots, hooks, worker, lease, faults);
    }

    /** Snapshots: CreateSnapshot, DescribeSnapshots, DeleteSnapshots, groups, exports, space. */
    public SnapshotService snapshots() { return snapshots; }
    /** Disks laid over snapshots: ApplySnapshot, ApplySnapshotGroup, InitializeDisks, flatten progress. */
    public Rollbacks rollbacks() { return rollbacks; }
    /** Repository upkeep (admin): gc, verify, stats, rebuild-catalog. */
    public RepositoryMaintenance repository() { return repository; }
    /** Auto-snapshot policies: create, describe, modify, delete, bind, unbind, history. */
    public PolicyService policies() { return policies; }
    private volatile String nbdEndpoint = "";

    /** Where this node serves disks over NBD ({@code nbd://host:port}), for clients that write images; set by the server once it listens. */
    public void setNbdEndpoint(String endpoint) { this.nbdEndpoint = endpoint; }
    public String nbdEndpoint() { return nbdEndpoint; }
    /** Cross-region copies this region sends (CopySnapshotCrossRegions); {@link SnapshotCopies#start} configures the regions. */
    public SnapshotCopies snapshotCopies() { return copies; }
    /** Cross-region copies this region receives from other regions' Cairns. */
    public CopyReceiver copyReceiver() { return copyReceiver; }
    /** Custom images (CreateImage, DeleteImages; DescribeImages lists them). */
    public ImageService images() { return images; }
    /** Metering and bills for stored snapshot data. */
    public Billing billing() { return billing; }
    /** Snapshot locks (deletion protection). */
    public SnapshotLocks snapshotLocks() { return locks; }
    /** Snapshots shared with other accounts. */
    public SnapshotShares snapshotShares() { return shares; }
    /** Per-account quotas (snapshots per disk and region, policies, instances). */
    public Quotas quotas() { return quotas; }
    /** This node's scheduler worker (its statistics, for /metrics). */
    public Scheduler scheduler() { return scheduler; }

    /**
     * Moves the test clock forward by {@code step}, firing every policy due in between in order, as
     * if the time had passed; returns the new time.
     */
    public java.time.Instant advanceClock(java.time.Duration step) throws InterruptedException {
        TestClock t = testClock().orElseThrow(() -> new InvalidValue("Duration", InvalidValue.Reason.UNSUPPORTED,
                "this server runs on the system clock; start it with --test-clock to control time"));
        return scheduler.advance(t, step);
    }

    public Accounts accounts() { return accounts; }
    /** The controllable clock when the server runs with {@code --test-clock}; empty on the system clock. */
    public Optional<TestClock> testClock() { return clock instanceof TestClock t ? Optional.of(t) : Optional.empty(); }
    /** The service's current time (the test clock's, when there is one). */
    public java.time.Instant now() { return clock.instant(); }
    public Region region() { return region; }
    public Limits limits() { return limits; }

    /**
     * Who to tell that a disk stopped being exportable (wired to the NBD server's disconnect). Called
     * after the change is committed, once per disk, on the thread that made the change.
     */
    public void setExportRevoked(Consumer<String> exportRevoked) {
        this.exportRevoked = exportRevoked == null ? id -> {} : exportRevoked;
    }

    // ---- images ----

    public Page<Image> describeImages(Caller caller, ListQuery<Image> query) {
        List<Image> all = new ArrayList<>();
        all.add(Image.BLANK);
        all.addAll(images.visible(caller));
        return query.apply(restrictIds(all, query.ids(), Image::imageId));
    }

    // ---- instances ----

    /** RunInstances: instances with a system disk and data disks, all PENDING until background work ends. */
    public List<String> runInstances(Caller caller, NewInstances spec) {
        return recorded(caller, "RunInstances", () -> {
            requireZone(spec.zone(), "Placement.Zone");
            ImageService.Plan plan = catalog.read(tx -> images.find(tx, caller, spec.imageId()))
                    .orElseThrow(() -> new NotFound(ResourceKind.IMAGE, spec.imageId()));
            Image image = plan.image();
            if (!image.imageState().equals("NORMAL")) {
                throw new InvalidValue("ImageId", InvalidValue.Reason.VALUE, "image `" + image.imageId() + "` is " + image.imageState());
            }
            // an image's disks are laid over its snapshots and stay layered: one image, plus what each instance changes
            List<Rollbacks.CloneSource> sources = new ArrayList<>();
            if (!plan.snapshots().isEmpty()) {
                catalog.read(tx -> {
                    for (Snapshot s : plan.snapshots()) sources.add(rollbacks.imageSource(tx, s.snapshotId()));
                    return null;
                });
            }
            if (spec.dataDisks().size() + Math.max(0, sources.size() - 1) > limits.dataDisksPerInstance()) {
                throw new InvalidValue("DataDisks", InvalidValue.Reason.TOO_MANY, "the image's data disks and `DataDisks` make more than "
                        + limits.dataDisksPerInstance() + " data disks");
            }
            if (InstanceTypes.shape(spec.instanceType()).isEmpty()) {
                throw new InvalidValue("InstanceType", InvalidValue.Reason.INSTANCE_TYPE,
                        "`InstanceType` `" + spec.instanceType() + "` is not of the form FAMILY.SIZE<memory>, e.g. S5.MEDIUM4");
            }
            if (spec.count() < 1 || spec.count() > limits.instancesPerRun()) {
                throw new InvalidValue("InstanceCount", InvalidValue.Reason.RANGE,
                        "`InstanceCount` must be 1.." + limits.instancesPerRun() + ", got " + spec.count());
            }
            requireName(spec.name(), "InstanceName", 128, InvalidValue.Reason.NAME_TOO_LONG);
            checkSystemDisk(spec.systemDisk(), image);
            if (spec.dataDisks().size() > limits.dataDisksPerInstance()) {
                throw new InvalidValue("DataDisks", InvalidValue.Reason.TOO_MANY,
                        "at most " + limits.dataDisksPerInstance() + " `DataDisks` per instance, got " + spec.dataDisks().size());
            }
            for (int i = 0; i < spec.dataDisks().size(); i++) {
                DiskSpec d = spec.dataDisks().get(i);
                checkDataDiskSize(d.diskType(), d.sizeGib(), "DataDisks." + i + ".DiskSize");
                requireName(d.name(), "DataDisks." + i + ".DiskName", 128, InvalidValue.Reason.VALUE);
            }
            Optional<List<String>> earlier = earlierResult(caller, "RunInstances", spec.clientToken());
            if (earlier.isPresent()) return earlier.get();
            if (spec.dryRun()) {
                catalog.read(tx -> { checkInstanceQuota(tx, caller, spec.count()); return null; });
                throw new ControlException.DryRunPassed("RunInstances would have succeeded (DryRun)");
            }

            Instant now = clock.instant();
            List<Instance> instances = new ArrayList<>();
            List<Disk> disks = new ArrayList<>();
            List<String> created = new ArrayList<>();
            java.util.Map<String, Rollbacks.CloneSource> layered = new java.util.LinkedHashMap<>();
            try {
                for (int n = 0; n < spec.count(); n++) {
                    String instanceId = Ids.instance();
                    String name = spec.name() == null ? UNNAMED : spec.name();
                    instances.add(new Instance(instanceId, caller.accountId(), name, spec.zone(), spec.projectId(),
                            spec.instanceType(), image.imageId(), InstanceState.PENDING, UUID.randomUUID().toString(), now,
                            "RunInstances", "OPERATING", caller.requestId(), List.of()));
                    DiskSpec sys = spec.systemDisk();
                    disks.add(newDiskFile(created, caller, sys.name() == null ? UNNAMED : sys.name(), spec.zone(),
                            spec.projectId(), sys.diskType(), DiskUsage.SYSTEM_DISK, sys.sizeGib(), DiskState.ATTACHED,
                            instanceId, false, true, now, sources.isEmpty() ? null : sources.getFirst()));
                    if (!sources.isEmpty()) layered.put(disks.getLast().diskId(), sources.getFirst());
                    for (Rollbacks.CloneSource data : sources.subList(Math.min(1, sources.size()), sources.size())) {
                        disks.add(newDiskFile(created, caller, UNNAMED, spec.zone(), spec.projectId(), DiskType.CLOUD_PREMIUM, DiskUsage.DATA_DISK,
                                data.sizeGib(), DiskState.ATTACHED, instanceId, true, true, now, data));
                        layered.put(disks.getLast().diskId(), data);
                    }
                    for (DiskSpec d : spec.dataDisks()) {
                        disks.add(newDiskFile(created, caller, d.name() == null ? UNNAMED : d.name(), spec.zone(),
                                spec.projectId(), d.diskType(), DiskUsage.DATA_DISK, d.sizeGib(), DiskState.ATTACHED,
                                instanceId, true, d.deleteWithInstance(), now));
                    }
                }
                List<String> ids = instances.stream().map(Instance::instanceId).toList();
                List<String> result = catalog.write(tx -> {
                    Optional<List<String>> raced = tokenResult(tx, caller, "RunInstances", spec.clientToken());
                    if (raced.isPresent()) return raced.get();
                    checkInstanceQuota(tx, caller, spec.count());
                    for (Instance i : instances) Rows.insertInstance(tx, i);
                    for (Disk d : disks) Rows.insertDisk(tx, d);
                    for (var e : layered.entrySet()) Rollbacks.recordLayered(tx, e.getKey(), e.getValue());
                    Rows.recordOps(tx, caller, "RunInstances", ids, "PROCESSING", now.toEpochMilli(), "image=" + image.imageId());
                    Rows.recordOps(tx, caller, "CreateDisks", disks.stream().map(Disk::diskId).toList(), "SUCCESS",
                            now.toEpochMilli(), "with instance");
                    saveToken(tx, caller, "RunInstances", spec.clientToken(), ids, now);
                    return ids;
                });
                if (!result.equals(ids)) {
                    deleteFiles(created); // a concurrent call with the same ClientToken won
                } else {
                    log.info("instances created account={} request_id={} instances={} disks={}", caller.accountId(),
                            caller.requestId(), ids, created);
                    ids.forEach(transitions::finishInstance);
                }
                return result;
            } catch (RuntimeException e) {
                deleteFiles(created);
                throw e;
            }
        });
    }

    public Page<Instance> describeInstances(Caller caller, ListQuery<Instance> query) {
        List<Instance> all = catalog.read(tx -> Rows.instancesOf(tx, caller.accountId()));
        return query.apply(restrictIds(all, query.ids(), Instance::instanceId));
    }

    public void startInstances(Caller caller, List<String> instanceIds) {
        changeInstances(caller, "StartInstances", instanceIds, Set.of(InstanceState.STOPPED), InstanceState.STARTING);
    }

    public void stopInstances(Caller caller, List<String> instanceIds) {
        changeInstances(caller, "StopInstances", instanceIds, Set.of(InstanceState.RUNNING), InstanceState.STOPPING);
    }

    public void rebootInstances(Caller caller, List<String> instanceIds) {
        changeInstances(caller, "RebootInstances", instanceIds, Set.of(InstanceState.RUNNING), InstanceState.REBOOTING);
    }

    /**
     * TerminateInstances: the instance goes TERMINATING (its disks stop being exported), then its system
     * disk and the data disks marked DeleteWithInstance are deleted, the others detached, and it is gone.
     */
    public void terminateInstances(Caller caller, List<String> instanceIds) {
        changeInstances(caller, "TerminateInstances", instanceIds, Set.of(InstanceState.RUNNING, InstanceState.STOPPED),
                InstanceState.TERMINATING);
    }

    private void changeInstances(Caller caller, String action, List<String> instanceIds, Set<InstanceState> from,
                                 InstanceState to) {
        recorded(caller, action, () -> {
            requireIds(instanceIds, "InstanceIds", limits.instancesPerAction());
            boolean revokes = !to.servesDisks();
            Catalog.TxBody<List<String>> body = tx -> {
                List<Instance> found = new ArrayList<>();
                for (String id : instanceIds) found.add(Rows.ownInstance(tx, caller.accountId(), id));
                for (Instance i : found) {
                    if (!from.contains(i.state())) {
                        throw new InstanceConflict(i.instanceId(), i.state(), false,
                                action + " is not allowed for instance `" + i.instanceId() + "` in state " + i.state());
                    }
                }
                List<String> unexported = new ArrayList<>();
                for (Instance i : found) {
                    if (revokes && i.state().servesDisks()) {
                        for (Disk d : Rows.disksOfInstance(tx, i.instanceId())) {
                            if (d.state() == DiskState.ATTACHED || d.state() == DiskState.EXPANDING) unexported.add(d.diskId());
                        }
                    }
                    Rows.setInstanceState(tx, i.instanceId(), to, action, "OPERATING", caller.requestId());
                }
                Rows.recordOps(tx, caller, action, instanceIds, "PROCESSING", clock.millis(), "to " + to);
                return unexported;
            };
            if (revokes) commitAndRevoke(body); else catalog.write(body);
            log.info("instances changing action={} account={} request_id={} instances={} state={}", action,
                    caller.accountId(), caller.requestId(), instanceIds, to);
            instanceIds.forEach(transitions::finishInstance);
            return null;
        });
    }

    private void checkInstanceQuota(Catalog.Tx tx, Caller caller, int more) throws SQLException {
        long have = tx.count("SELECT COUNT(*) FROM instances WHERE account_id = ?", caller.accountId());
        quotas.require(tx, caller.accountId(), Quotas.Quota.INSTANCES, have, more, "the account");
    }

    private void checkSystemDisk(DiskSpec sys, Image image) {
        Limits.SizeRule rule = limits.systemDiskSize();
        if (!rule.allows(sys.sizeGib())) {
            throw new InvalidValue("SystemDisk.DiskSize", InvalidValue.Reason.VALUE,
                    "`SystemDisk.DiskSize` must be " + rule + ", got " + sys.sizeGib());
        }
        if (sys.sizeGib() < image.imageSizeGib()) {
            throw new InvalidValue("SystemDisk.DiskSize", InvalidValue.Reason.VALUE, "`SystemDisk.DiskSize` "
                    + sys.sizeGib() + " is smaller than image " + image.imageId() + " (" + image.imageSizeGib() + " GiB)");
        }
        requireName(sys.name(), "SystemDisk.DiskName", 128, InvalidValue.Reason.VALUE);
    }

    // ---- disks ----

    /** CreateDisks. With {@link NewDisks#attachTo} the disks start ATTACHING to that instance. */
    public List<String> createDisks(Caller caller, NewDisks requested) {
        return recorded(caller, "CreateDisks", () -> {
            requireZone(requested.zone(), "Placement.Zone");
            Rollbacks.CloneSource source = requested.snapshotId() == null ? null : rollbacks.cloneSource(caller, requested.snapshotId());
            NewDisks spec = requested;
            if (source != null) {
                if (requested.sizeGib() == 0) {
                    spec = new NewDisks(requested.zone(), requested.projectId(), requested.diskType(), source.sizeGib(), requested.name(),
                            requested.count(), requested.attachTo(), requested.deleteWithInstance(), requested.deleteSnapshot(),
                            requested.clientToken(), requested.snapshotId());
                } else if (requested.sizeGib() < source.sizeGib()) {
                    throw new ControlException.SnapshotConflict(source.snapshotId(), ControlException.SnapshotConflict.Problem.SIZE,
                            "`DiskSize` " + requested.sizeGib() + " is smaller than snapshot `" + source.snapshotId() + "` ("
                                    + source.sizeGib() + " GiB)");
                }
            }
            return createDisks(caller, spec, source);
        });
    }

    private List<String> createDisks(Caller caller, NewDisks spec, Rollbacks.CloneSource source) {
        {
            checkDataDiskSize(spec.diskType(), spec.sizeGib(), "DiskSize");
            if (spec.count() < 1 || spec.count() > limits.disksPerCreate()) {
                throw new InvalidValue("DiskCount", InvalidValue.Reason.TOO_MANY,
                        "`DiskCount` must be 1.." + limits.disksPerCreate() + ", got " + spec.count());
            }
            requireName(spec.name(), "DiskName", 60, InvalidValue.Reason.VALUE);
            if (spec.diskType() == DiskType.CLOUD_TSSD && spec.attachTo() == null) {
                throw new InvalidValue("DiskType", InvalidValue.Reason.DISK_CONFIG,
                        "CLOUD_TSSD disks can only be created attached to an instance");
            }
            Optional<List<String>> earlier = earlierResult(caller, "CreateDisks", spec.clientToken());
            if (earlier.isPresent()) return earlier.get();

            Instant now = clock.instant();
            List<String> created = new ArrayList<>();
            List<Disk> disks = new ArrayList<>();
            DiskState state = spec.attachTo() == null ? DiskState.UNATTACHED : DiskState.ATTACHING;
            try {
                for (int n = 0; n < spec.count(); n++) {
                    disks.add(newDiskFile(created, caller, spec.name() == null ? UNNAMED : spec.name(), spec.zone(),
                            spec.projectId(), spec.diskType(), DiskUsage.DATA_DISK, spec.sizeGib(), state, spec.attachTo(),
                            true, spec.deleteWithInstance(), now, source));
                }
                if (spec.deleteSnapshot() != 0) {
                    disks.replaceAll(d -> new Disk(d.diskId(), d.accountId(), d.name(), d.zone(), d.projectId(), d.diskType(),
                            d.diskUsage(), d.chargeType(), d.sizeGib(), d.state(), d.instanceId(), d.portable(),
                            d.deleteWithInstance(), spec.deleteSnapshot(), d.createdAt()));
                }
                List<String> ids = List.copyOf(created);
                List<String> result = catalog.write(tx -> {
                    Optional<List<String>> raced = tokenResult(tx, caller, "CreateDisks", spec.clientToken());
                    if (raced.isPresent()) return raced.get();
                    if (spec.attachTo() != null) {
                        Instance target = Rows.ownInstance(tx, caller.accountId(), spec.attachTo());
                        checkAttachTarget(tx, target, spec.zone(), ids.size(), null);
                    }
                    if (source != null) rollbacks.cloneSource(tx, caller, source.snapshotId()); // still there: its manifest is safe from now on
                    for (Disk d : disks) {
                        Rows.insertDisk(tx, d);
                        if (source != null) Rollbacks.recordClone(tx, d.diskId(), source);
                    }
                    Rows.recordOps(tx, caller, "CreateDisks", ids, "SUCCESS", now.toEpochMilli(),
                            spec.diskType() + " " + spec.sizeGib() + " GiB" + (source == null ? "" : " from " + source.snapshotId()));
                    if (spec.attachTo() != null) {
                        Rows.recordOps(tx, caller, "AttachDisks", ids, "PROCESSING", now.toEpochMilli(), spec.attachTo());
                    }
                    saveToken(tx, caller, "CreateDisks", spec.clientToken(), ids, now);
                    return ids;
                });
                if (!result.equals(ids)) {
                    deleteFiles(created);
                } else {
                    log.info("disks created account={} request_id={} disks={} size_gib={} attach_to={} snapshot={}", caller.accountId(),
                            caller.requestId(), ids, spec.sizeGib(), spec.attachTo(), spec.snapshotId());
                    if (spec.attachTo() != null) ids.forEach(transitions::finishAttach);
                    if (source != null) ids.forEach(rollbacks::startFlatten); // single clones become independent, like a cloud's
                }
                return result;
            } catch (RuntimeException e) {
                deleteFiles(created);
                throw e;
            }
        }
    }

    public Page<Disk> describeDisks(Caller caller, ListQuery<Disk> query) {
        List<Disk> all = catalog.read(tx -> Rows.disksOf(tx, caller.accountId()));
        return query.apply(restrictIds(all, query.ids(), Disk::diskId));
    }

    /** AttachDisks: all-or-nothing; the disks go ATTACHING, then ATTACHED. */
    public void attachDisks(Caller caller, String instanceId, List<String> diskIds, Boolean deleteWithInstance) {
        recorded(caller, "AttachDisks", () -> {
            requireIds(diskIds, "DiskIds", limits.disksPerAttach());
            catalog.write(tx -> {
                Instance target = Rows.ownInstance(tx, caller.accountId(), instanceId);
                List<Disk> disks = new ArrayList<>();
                for (String id : diskIds) disks.add(Rows.ownDisk(tx, caller.accountId(), id));
                for (Disk d : disks) {
                    if (d.diskUsage() == DiskUsage.SYSTEM_DISK) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.SYSTEM_DISK, "disk `" + d.diskId() + "` is a system disk");
                    }
                    if (!d.portable()) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.NOT_PORTABLE, "disk `" + d.diskId() + "` is not portable");
                    }
                    if (d.instanceId() != null) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.ATTACHED,
                                "disk `" + d.diskId() + "` is attached to `" + d.instanceId() + "`");
                    }
                    if (d.state() != DiskState.UNATTACHED) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.BUSY, "disk `" + d.diskId() + "` is " + d.state());
                    }
                }
                checkAttachTarget(tx, target, null, disks.size(), disks);
                for (Disk d : disks) {
                    tx.update("UPDATE disks SET state = ?, instance_id = ?, delete_with_instance = ? WHERE disk_id = ?",
                            DiskState.ATTACHING, instanceId, deleteWithInstance == null ? d.deleteWithInstance() : deleteWithInstance,
                            d.diskId());
                }
                Rows.recordOps(tx, caller, "AttachDisks", diskIds, "PROCESSING", clock.millis(), instanceId);
                return null;
            });
            log.info("disks attaching account={} request_id={} disks={} instance={}", caller.accountId(), caller.requestId(),
                    diskIds, instanceId);
            diskIds.forEach(transitions::finishAttach);
            return null;
        });
    }

    private void checkAttachTarget(Catalog.Tx tx, Instance target, String zone, int adding, List<Disk> disks) throws SQLException {
        if (target.state() == InstanceState.TERMINATING || target.state() == InstanceState.STOPPING) {
            throw new InstanceConflict(target.instanceId(), target.state(), true,
                    "instance `" + target.instanceId() + "` is " + target.state() + " and cannot take disks");
        }
        if (zone != null && !zone.equals(target.zone())) {
            throw new InvalidValue("Placement.Zone", InvalidValue.Reason.ZONE, "disks in " + zone
                    + " cannot be attached to instance `" + target.instanceId() + "` in " + target.zone());
        }
        if (disks != null) {
            for (Disk d : disks) {
                if (!d.zone().equals(target.zone())) {
                    throw new DiskConflict(d.diskId(), DiskConflict.Problem.ZONE_MISMATCH, "disk `" + d.diskId() + "` is in "
                            + d.zone() + ", instance `" + target.instanceId() + "` in " + target.zone());
                }
            }
        }
        long have = Rows.dataDisksOn(tx, target.instanceId());
        if (have + adding > limits.dataDisksPerInstance()) {
            throw new QuotaExceeded(QuotaExceeded.Quota.INSTANCE_ATTACHED_DISKS, "instance `" + target.instanceId() + "` has "
                    + have + " data disks; " + adding + " more would exceed " + limits.dataDisksPerInstance());
        }
    }

    /** DetachDisks: all-or-nothing; the disks stop being exported at once, go DETACHING, then UNATTACHED. */
    public void detachDisks(Caller caller, List<String> diskIds, String instanceId) {
        recorded(caller, "DetachDisks", () -> {
            requireIds(diskIds, "DiskIds", limits.disksPerAttach());
            commitAndRevoke(tx -> {
                if (instanceId != null) Rows.ownInstance(tx, caller.accountId(), instanceId);
                List<Disk> disks = new ArrayList<>();
                for (String id : diskIds) disks.add(Rows.ownDisk(tx, caller.accountId(), id));
                List<String> unexported = new ArrayList<>();
                for (Disk d : disks) {
                    if (d.diskUsage() == DiskUsage.SYSTEM_DISK) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.SYSTEM_DISK, "disk `" + d.diskId() + "` is a system disk");
                    }
                    if (d.instanceId() == null) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.NOT_ATTACHED, "disk `" + d.diskId() + "` is not attached");
                    }
                    if (d.state() != DiskState.ATTACHED) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.BUSY, "disk `" + d.diskId() + "` is " + d.state());
                    }
                    if (instanceId != null && !instanceId.equals(d.instanceId())) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.WRONG_INSTANCE,
                                "disk `" + d.diskId() + "` is not attached to `" + instanceId + "`");
                    }
                }
                for (Disk d : disks) {
                    Rows.setDiskState(tx, d.diskId(), DiskState.DETACHING, d.instanceId());
                    unexported.add(d.diskId());
                }
                Rows.recordOps(tx, caller, "DetachDisks", diskIds, "PROCESSING", clock.millis(),
                        instanceId == null ? "" : instanceId);
                return unexported;
            });
            log.info("disks detaching account={} request_id={} disks={}", caller.accountId(), caller.requestId(), diskIds);
            diskIds.forEach(transitions::finishDetach);
            return null;
        });
    }

    /** ResizeDisk: grow only; online (the disk stays exported). EXPANDING until the file has grown. */
    public void resizeDisk(Caller caller, String diskId, long newSizeGib) {
        recorded(caller, "ResizeDisk", () -> {
            catalog.write(tx -> {
                Disk d = Rows.ownDisk(tx, caller.accountId(), diskId);
                if (d.state() != DiskState.ATTACHED && d.state() != DiskState.UNATTACHED) {
                    throw new DiskConflict(diskId, DiskConflict.Problem.BUSY, "disk `" + diskId + "` is " + d.state());
                }
                if (newSizeGib <= d.sizeGib()) {
                    throw new InvalidValue("DiskSize", InvalidValue.Reason.VALUE, "`DiskSize` " + newSizeGib
                            + " must be larger than the disk's current size " + d.sizeGib() + " GiB (disks only grow)");
                }
                Limits.SizeRule rule = d.diskUsage() == DiskUsage.SYSTEM_DISK ? limits.systemDiskSize() : limits.dataDiskSize(d.diskType());
                if (!rule.allows(newSizeGib)) {
                    throw new InvalidValue("DiskSize", InvalidValue.Reason.VALUE,
                            "`DiskSize` for " + d.diskType() + " must be " + rule + ", got " + newSizeGib);
                }
                tx.update("UPDATE disks SET state = ?, target_size_gib = ? WHERE disk_id = ?", DiskState.EXPANDING, newSizeGib, diskId);
                Rows.recordOps(tx, caller, "ResizeDisk", List.of(diskId), "PROCESSING", clock.millis(),
                        d.sizeGib() + " -> " + newSizeGib + " GiB");
                return null;
            });
            log.info("disk expanding account={} request_id={} disk={} size_gib={}", caller.accountId(), caller.requestId(),
                    diskId, newSizeGib);
            transitions.finishResize(diskId);
            return null;
        });
    }

    /** ModifyDiskAttributes: the same changes to every listed disk, all or nothing. */
    public void modifyDiskAttributes(Caller caller, List<String> diskIds, DiskChanges changes) {
        recorded(caller, "ModifyDiskAttributes", () -> {
            requireIds(diskIds, "DiskIds", limits.disksPerTerminate());
            requireName(changes.name(), "DiskName", 60, InvalidValue.Reason.VALUE);
            if (changes.diskType() != null && (diskIds.size() != 1 || changes.name() != null || changes.portable() != null
                    || changes.deleteWithInstance() != null || changes.projectId() != null)) {
                throw new InvalidValue("DiskType", InvalidValue.Reason.CONFLICT,
                        "`DiskType` can only be changed for one disk and with no other attribute");
            }
            if (Boolean.FALSE.equals(changes.portable())) {
                throw new InvalidValue("Portable", InvalidValue.Reason.VALUE, "`Portable` can only be changed from false to true");
            }
            if (changes.projectId() != null && changes.projectId() < 0) {
                throw new InvalidValue("ProjectId", InvalidValue.Reason.VALUE, "`ProjectId` must be >= 0");
            }
            catalog.write(tx -> {
                List<Disk> disks = new ArrayList<>();
                for (String id : diskIds) disks.add(Rows.ownDisk(tx, caller.accountId(), id));
                for (Disk d : disks) {
                    if (changes.portable() != null && d.diskUsage() == DiskUsage.SYSTEM_DISK) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.SYSTEM_DISK,
                                "system disk `" + d.diskId() + "` cannot become portable");
                    }
                    if (changes.diskType() != null) {
                        Limits.SizeRule rule = d.diskUsage() == DiskUsage.SYSTEM_DISK ? limits.systemDiskSize()
                                : limits.dataDiskSize(changes.diskType());
                        if (!rule.allows(d.sizeGib())) {
                            throw new InvalidValue("DiskType", InvalidValue.Reason.DISK_CONFIG, "disk `" + d.diskId() + "` of "
                                    + d.sizeGib() + " GiB cannot become " + changes.diskType() + " (" + rule + ")");
                        }
                    }
                }
                for (Disk d : disks) {
                    tx.update("UPDATE disks SET name = ?, portable = ?, delete_with_instance = ?, project_id = ?, disk_type = ? "
                                    + "WHERE disk_id = ?",
                            changes.name() == null ? d.name() : changes.name(),
                            changes.portable() == null ? d.portable() : changes.portable(),
                            changes.deleteWithInstance() == null ? d.deleteWithInstance() : changes.deleteWithInstance(),
                            changes.projectId() == null ? d.projectId() : changes.projectId(),
                            changes.diskType() == null ? d.diskType() : changes.diskType(), d.diskId());
                }
                Rows.recordOps(tx, caller, "ModifyDiskAttributes", diskIds, "SUCCESS", clock.millis(), changes.toString());
                return null;
            });
            return null;
        });
    }

    /** TerminateDisks: unattached data disks only, all or nothing; their rows and files are removed. */
    public void terminateDisks(Caller caller, List<String> diskIds) {
        terminateDisks(caller, diskIds, false);
    }

    /**
     * TerminateDisks; with {@code deleteSnapshots} (or when a disk was created with DeleteSnapshot 1)
     * the disk's non-permanent snapshots go with it.
     */
    public void terminateDisks(Caller caller, List<String> diskIds, boolean deleteSnapshots) {
        recorded(caller, "TerminateDisks", () -> {
            requireIds(diskIds, "DiskIds", limits.disksPerTerminate());
            List<String> dropped = new ArrayList<>();
            catalog.write(tx -> {
                dropped.clear();
                List<Disk> disks = new ArrayList<>();
                for (String id : diskIds) disks.add(Rows.ownDisk(tx, caller.accountId(), id));
                for (Disk d : disks) {
                    if (d.diskUsage() == DiskUsage.SYSTEM_DISK) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.SYSTEM_DISK, "disk `" + d.diskId()
                                + "` is a system disk; it goes with its instance (TerminateInstances)");
                    }
                    if (d.instanceId() != null) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.ATTACHED, "disk `" + d.diskId()
                                + "` is attached to `" + d.instanceId() + "`; detach it first");
                    }
                    if (d.state() != DiskState.UNATTACHED) {
                        throw new DiskConflict(d.diskId(), DiskConflict.Problem.BUSY, "disk `" + d.diskId() + "` is " + d.state());
                    }
                }
                for (Disk d : disks) {
                    Rows.setDiskState(tx, d.diskId(), DiskState.TORECYCLE, null);
                    tx.update("DELETE FROM auto_snapshot_policy_disks WHERE disk_id = ?", d.diskId());
                    if (deleteSnapshots || d.deleteSnapshot() == 1) dropped.addAll(snapshots.dropNonPermanentOf(tx, caller, d.diskId()));
                }
                Rows.recordOps(tx, caller, "TerminateDisks", diskIds, "PROCESSING", clock.millis(), dropped.isEmpty() ? ""
                        : "with " + dropped.size() + " snapshots");
                return null;
            });
            snapshots.release(dropped);
            log.info("disks terminating account={} request_id={} disks={}", caller.accountId(), caller.requestId(), diskIds);
            diskIds.forEach(transitions::finishDeletion);
            return null;
        });
    }

    /** DescribeInstancesDiskNum. */
    public List<AttachCount> instancesDiskNum(Caller caller, List<String> instanceIds) {
        requireIds(instanceIds, "InstanceIds", limits.idsPerDescribe());
        return catalog.read(tx -> {
            List<AttachCount> out = new ArrayList<>();
            for (String id : instanceIds) {
                Instance i = Rows.ownInstance(tx, caller.accountId(), id);
                out.add(new AttachCount(i.instanceId(), Rows.dataDisksOn(tx, i.instanceId()), limits.dataDisksPerInstance()));
            }
            return out;
        });
    }

    /** The operation log of one of the caller's resources, oldest first. */
    public List<OperationRecord> operationLog(Caller caller, String resourceId) {
        return catalog.read(tx -> tx.query("""
                SELECT account_id, action, resource_id, request_id, state, started_at, detail, finished_at FROM operations
                WHERE resource_id = ? AND account_id = ? ORDER BY started_at, operation_id""",
                Rows::operation, resourceId, caller.accountId()));
    }

    // ---- NBD exports ----

    /** True when the disk may be served over NBD now (see class comment). */
    public boolean exportable(String diskId) {
        return catalog.read(tx -> tx.count("""
                SELECT COUNT(*) FROM disks d JOIN instances i ON i.instance_id = d.instance_id
                WHERE d.disk_id = ? AND d.state IN (?, ?) AND i.state IN (?, ?, ?, ?)""",
                diskId, DiskState.ATTACHED, DiskState.EXPANDING,
                InstanceState.PENDING, InstanceState.RUNNING, InstanceState.STARTING, InstanceState.REBOOTING) > 0);
    }

    /**
     * Opens the disk's volume if it is exportable now, else empty. The caller closes the volume. The
     * check and the open happen under the export gate, so a revocation committed before this call is
     * always seen; one committed after it is reported through {@code exportRevoked}.
     */
    public Optional<Volume> openExport(String diskId) throws IOException {
        exportGate.readLock().lock();
        try {
            if (!exportable(diskId)) return Optional.empty();
            return Optional.of(volumes.open(diskId));
        } finally {
            exportGate.readLock().unlock();
        }
    }

    /** Every disk exportable now, sorted (for NBD_OPT_LIST). */
    public List<String> exportedDiskIds() {
        return catalog.read(tx -> tx.query("""
                SELECT d.disk_id FROM disks d JOIN instances i ON i.instance_id = d.instance_id
                WHERE d.state IN (?, ?) AND i.state IN (?, ?, ?, ?) ORDER BY d.disk_id""",
                rs -> rs.getString(1), DiskState.ATTACHED, DiskState.EXPANDING,
                InstanceState.PENDING, InstanceState.RUNNING, InstanceState.STARTING, InstanceState.REBOOTING));
    }

    void commitAndRevoke(Catalog.TxBody<List<String>> body) {
        exportGate.writeLock().lock();
        try {
            List<String> revoked = catalog.write(body);
            Consumer<String> sink = exportRevoked;
            for (String id : revoked) {
                try {
                    sink.accept(id);
                } catch (RuntimeException e) {
                    log.warn("export revocation callback failed disk={}", id, e);
                }
            }
        } finally {
            exportGate.writeLock().unlock();
        }
    }

    // ---- helpers ----

    /** Waits until background transitions submitted so far have finished (for shutdown and tests). */
    public boolean awaitIdle(java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        return transitions.awaitIdle(timeout) && background.awaitIdle(java.time.Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }

    @Override
    public void close() {
        scheduler.close();
        background.stopping();
        snapshots.close();
        rollbacks.close();
        background.close();
        transitions.close();
    }

    private Disk newDiskFile(List<String> created, Caller caller, String name, String zone, long projectId, DiskType type,
                             DiskUsage usage, long sizeGib, DiskState state, String instanceId, boolean portable,
                             boolean deleteWithInstance, Instant now) {
        return newDiskFile(created, caller, name, zone, projectId, type, usage, sizeGib, state, instanceId, portable,
                deleteWithInstance, now, null);
    }

    /** Creates a new disk's files: empty, or laid over {@code source} (a clone). */
    private Disk newDiskFile(List<String> created, Caller caller, String name, String zone, long projectId, DiskType type,
                             DiskUsage usage, long sizeGib, DiskState state, String instanceId, boolean portable,
                             boolean deleteWithInstance, Instant now, Rollbacks.CloneSource source) {
        for (int attempt = 0; ; attempt++) {
            String id = Ids.disk();
            try {
                if (volumes.exists(id)) throw new FileAlreadyExistsException(id);
                if (source == null) volumes.create(id, sizeGib * GIB); else rollbacks.layClone(id, sizeGib * GIB, source);
                created.add(id);
                return new Disk(id, caller.accountId(), name, zone, projectId, type, usage, "POSTPAID_BY_HOUR", sizeGib,
                        state, instanceId, portable, deleteWithInstance, 0, now);
            } catch (FileAlreadyExistsException e) {
                if (attempt > 5) throw new IllegalStateException("could not find a free disk id", e);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("creating the file of disk " + id + " failed", e);
            }
        }
    }

    private void deleteFiles(List<String> diskIds) {
        for (String id : diskIds) {
            try {
                volumes.delete(id);
            } catch (IOException e) {
                log.warn("could not remove the file of uncommitted disk={}", id, e);
            }
        }
    }

    void requireZone(String zone, String field) {
        if (zone == null) throw new InvalidValue(field, InvalidValue.Reason.ZONE, "`" + field + "` is required");
        if (region.zone(zone).isEmpty()) {
            throw new InvalidValue(field, InvalidValue.Reason.ZONE, "zone `" + zone + "` is not in region " + region.name()
                    + " (zones: " + region.zones().stream().map(Region.Zone::zone).toList() + ")");
        }
    }

    private void checkDataDiskSize(DiskType type, long sizeGib, String field) {
        Limits.SizeRule rule = limits.dataDiskSize(type);
        if (!rule.allows(sizeGib)) {
            throw new InvalidValue(field, InvalidValue.Reason.VALUE, "`" + field + "` for " + type + " must be " + rule + ", got " + sizeGib);
        }
    }

    static void requireName(String name, String field, int maxChars, InvalidValue.Reason tooLong) {
        if (name == null) return;
        if (name.length() > maxChars) {
            throw new InvalidValue(field, tooLong, "`" + field + "` is longer than " + maxChars + " characters");
        }
        if (name.chars().anyMatch(Character::isISOControl)) {
            throw new InvalidValue(field, InvalidValue.Reason.VALUE, "`" + field + "` contains control characters");
        }
    }

    static void requireIds(List<String> ids, String field, int max) {
        if (ids.isEmpty()) throw new InvalidValue(field, InvalidValue.Reason.VALUE, "`" + field + "` is empty");
        if (ids.size() > max) {
            throw new InvalidValue(field, InvalidValue.Reason.TOO_MANY, "at most " + max + " `" + field + "` per call, got " + ids.size());
        }
        if (new HashSet<>(ids).size() != ids.size()) {
            throw new InvalidValue(field, InvalidValue.Reason.DUPLICATE, "`" + field + "` lists an id twice");
        }
    }

    static <T> List<T> restrictIds(List<T> all, List<String> ids, java.util.function.Function<T, String> id) {
        if (ids.isEmpty()) return all;
        Set<String> wanted = Set.copyOf(ids);
        return all.stream().filter(x -> wanted.contains(id.apply(x))).toList();
    }

    private Optional<List<String>> earlierResult(Caller caller, String action, String token) {
        if (token == null) return Optional.empty();
        return catalog.read(tx -> tokenResult(tx, caller, action, token));
    }

    private static Optional<List<String>> tokenResult(Catalog.Tx tx, Caller caller, String action, String token) throws SQLException {
        if (token == null) return Optional.empty();
        return tx.first("SELECT resource_ids FROM client_tokens WHERE account_id = ? AND action = ? AND client_token = ?",
                rs -> Arrays.asList(rs.getString(1).split(",")), caller.accountId(), action, token);
    }

    private static void saveToken(Catalog.Tx tx, Caller caller, String action, String token, List<String> ids, Instant now)
            throws SQLException {
        if (token == null) return;
        tx.update("INSERT INTO client_tokens (account_id, action, client_token, resource_ids, created_at) VALUES (?, ?, ?, ?, ?)",
                caller.accountId(), action, token, String.join(",", ids), now.toEpochMilli());
    }

    /** Runs a mutating action; a refusal is written to the operation log before it propagates. */
    <T> T recorded(Caller caller, String action, Supplier<T> work) {
        try {
            return work.get();
        } catch (ControlException.DryRunPassed e) {
            throw e;
        } catch (ControlException e) {
            try {
                catalog.write(tx -> {
                    Rows.recordOps(tx, caller, action, List.of(""), "FAILED", clock.millis(),
                            e.getClass().getSimpleName() + ": " + e.getMessage());
                    return null;
                });
            } catch (RuntimeException logging) {
                e.addSuppressed(logging);
            }
            throw e;
        }
    }
}
