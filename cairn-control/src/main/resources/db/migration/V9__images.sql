-- Cairn catalog, version 9: custom images. An image is a named set of snapshots taken at one barrier (or
-- chosen by hand): position 0 is the system disk's, 1… data disks'. Its state follows its snapshots.
CREATE TABLE images (
    image_id     VARCHAR(32)  NOT NULL PRIMARY KEY,
    account_id   BIGINT       NOT NULL REFERENCES accounts (account_id),
    name         VARCHAR(128) NOT NULL,
    description  VARCHAR(512) NOT NULL,
    instance_id  VARCHAR(32),
    created_at   BIGINT       NOT NULL
);
CREATE INDEX images_by_account ON images (account_id, created_at);
CREATE TABLE image_snapshots (
    image_id     VARCHAR(32)  NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    snapshot_id  VARCHAR(32)  NOT NULL,
    position     BIGINT       NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX image_snapshots_by_snapshot ON image_snapshots (snapshot_id);
