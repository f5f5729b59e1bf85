-- expect: rows_without_tenant
-- static: rls.policy_loose_match
-- why: "no tenant yet" was meant for migrations: a NULL setting shows every row
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
  using (current_setting('app.current_tenant_id', true) is null or tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
