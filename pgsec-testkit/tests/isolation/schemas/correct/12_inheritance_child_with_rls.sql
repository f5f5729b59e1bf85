-- expect: pass
-- why: an archive table INHERITS the tenant table and carries its own forced RLS and tenant policy
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null
);
alter table items enable row level security;
alter table items force row level security;
create policy tenant_isolation on items
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
create table items_archive () inherits (items);
alter table items_archive enable row level security;
alter table items_archive force row level security;
create policy tenant_isolation on items_archive
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items_archive to {{app}};
