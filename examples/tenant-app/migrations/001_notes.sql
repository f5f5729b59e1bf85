-- The application's tables: every row belongs to a tenant; Row-Level Security keeps
-- each tenant to its own rows (forced, so the table owner is held to it too).
CREATE TABLE notes (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    body text NOT NULL
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_tenant ON notes
    USING (tenant_id = current_setting('app.current_tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.current_tenant_id', true));
