-- expect: pass
-- why: views with security_invoker read with the caller's rights, so the table's policies apply through them (an aggregate view too)
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null,
  archived boolean not null default false
);
alter table items enable row level security;
alter table items force row level security;
create policy tenant_isolation on items
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
create view item_list with (security_invoker = true) as
  select id, tenant_id, body from items where not archived;
create view item_totals with (security_invoker = true) as
  select count(*) as items, max(id) as last_id from items;
create view recent_items with (security_invoker = true) as
  select id, body from item_list order by id desc limit 3;
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
grant select on item_list, item_totals, recent_items to {{app}};
