-- expect: pass
-- why: a permissive policy opens the table, a RESTRICTIVE one (AND-ed) isolates tenants; extra permissive policies cannot widen it
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null,
  archived boolean not null default false
);
alter table items enable row level security;
alter table items force row level security;
create policy app_access on items using (true) with check (true);
create policy support_access on items for select using (not archived);
create policy tenant_isolation on items as restrictive
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
