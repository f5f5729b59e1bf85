-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.view_bypass
-- why: the view lacks security_invoker, so it reads the table with its owner's (a superuser's) rights and RLS never applies
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
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
create view item_list as select id, tenant_id, body from items where not archived;
grant select on item_list to {{app}};
