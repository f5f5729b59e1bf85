-- expect: rows_without_tenant
-- static: rls.policy_loose_match
-- why: an empty or unset setting falls back to the nil uuid, so connections without a tenant act as tenant 00000000-...
create table documents (
  id bigserial primary key,
  tenant_id uuid not null,
  title text not null
);
alter table documents enable row level security;
alter table documents force row level security;
create policy tenant_isolation on documents
  using (tenant_id = coalesce(nullif(current_setting('app.current_tenant_id', true), ''), '00000000-0000-0000-0000-000000000000')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid);
grant select, insert, update, delete on documents to {{app}};
grant usage on sequence documents_id_seq to {{app}};
