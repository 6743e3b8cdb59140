-- Who made each change, and in which request (the audit of `GET /api/activity`).
--
-- The writer names itself once per transaction (`store.writes.write_transaction` sets the
-- transaction-local `acl.actor` and `acl.request_id`); these column defaults read them, so the
-- changelog trigger of 0001 stamps every row without being redefined. A setting that was never
-- set reads NULL, one set by an earlier transaction of the session reads '': both mean "not said".
-- Rows logged before this migration are attributed to 'system'.
ALTER TABLE changelog
    ADD COLUMN actor text NOT NULL DEFAULT coalesce(nullif(current_setting('acl.actor', true), ''), 'system'),
    ADD COLUMN request_id text DEFAULT nullif(current_setting('acl.request_id', true), '');

-- `GET /api/activity?organization=` pages through one organization's changes in revision order.
CREATE INDEX changelog_organization_revision_idx ON changelog (organization_id, revision, id);
