-- expect: pass
-- why: a view without security_invoker is safe when it filters by the tenant setting itself
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
create view my_items as
  select id, body from items where tenant_id = current_setting('app.current_tenant_id', true);
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
grant select on my_items to {{app}};
