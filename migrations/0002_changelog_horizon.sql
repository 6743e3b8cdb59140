-- A bounded changelog: `acl-service changelog prune` (and `serve`, periodically) deletes the rows
-- of old revisions and records here the highest revision it removed. An instance whose applied
-- revision is below `pruned_through` can no longer replay what it missed and reloads whole.
CREATE TABLE changelog_horizon (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_through bigint NOT NULL DEFAULT 0 CHECK (pruned_through >= 0)
);
INSERT INTO changelog_horizon DEFAULT VALUES;
