-- Cairn catalog, version 10: custom images shared with other accounts (ModifyImageSharePermission).
CREATE TABLE image_shares (
    image_id    VARCHAR(32)  NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    account_id  BIGINT       NOT NULL REFERENCES accounts (account_id),
    created_at  BIGINT       NOT NULL,
    PRIMARY KEY (image_id, account_id)
);
CREATE INDEX image_shares_by_account ON image_shares (account_id);
