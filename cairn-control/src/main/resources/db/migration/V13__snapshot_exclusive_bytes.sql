-- What deleting each snapshot alone would free now (DescribeSnapshots' ExclusiveBytes): kept here and
-- refreshed in the background after snapshots are taken or deleted, since working it out is one pass over
-- every live manifest, which a describe must not pay. NULL until the first refresh after the row appears.
ALTER TABLE snapshots ADD COLUMN exclusive_bytes BIGINT;
