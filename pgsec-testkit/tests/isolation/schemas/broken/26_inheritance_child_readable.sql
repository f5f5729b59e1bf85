-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.disabled
-- why: an archive table INHERITS the tenant table and is granted to the application; policies of the parent apply only through the parent, and the child has no RLS of its own
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
grant select, insert, update, delete on items_archive to {{app}};
