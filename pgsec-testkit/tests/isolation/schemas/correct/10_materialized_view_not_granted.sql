-- expect: pass
-- why: the materialized view is for reporting and not granted to the application, which reads a security_invoker view of the table instead
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
create materialized view item_digest as select tenant_id, count(*) as items from items group by tenant_id;
create view item_list with (security_invoker = true) as select id, body from items;
grant select on item_list to {{app}};
