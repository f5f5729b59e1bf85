-- expect: rows_without_tenant
-- static: rls.policy_loose_match
-- why: coalesce(nullif(setting, ''), tenant_id) compares the column with itself when the setting is empty or unset
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null,
  archived boolean not null default false
);
alter table items enable row level security;
alter table items force row level security;
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
create policy tenant_isolation on items
  using (tenant_id = coalesce(nullif(current_setting('app.current_tenant_id', true), ''), tenant_id))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
