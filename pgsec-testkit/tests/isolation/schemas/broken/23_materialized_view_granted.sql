-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.view_bypass
-- why: a materialized view over the tenant table is granted to the application: REFRESH reads every tenant's rows with its owner's (a superuser's) rights, and no policy applies to what it stores
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
create materialized view item_digest as select tenant_id, id, body from items;
grant select on item_digest to {{app}};
