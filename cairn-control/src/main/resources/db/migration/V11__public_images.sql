-- Cairn catalog, version 11: images the admin published for every account (e.g. `cairn image import`).
ALTER TABLE images ADD COLUMN is_public BOOLEAN NOT NULL DEFAULT FALSE;
