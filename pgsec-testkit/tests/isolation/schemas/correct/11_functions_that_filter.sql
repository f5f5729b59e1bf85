-- expect: pass
-- why: a SECURITY DEFINER function that filters by the tenant setting itself, and a SECURITY INVOKER one under the table's policies, both executable by the application
create table orders (
  id bigserial primary key,
  tenant_id text not null,
  status text not null,
  total numeric(12, 2) not null default 0
);
alter table orders enable row level security;
alter table orders force row level security;
create policy tenant_isolation on orders
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on orders to {{app}};
grant usage on sequence orders_id_seq to {{app}};
create function my_open_orders() returns setof orders
  language sql stable security definer set search_path = ''
  as $$ select * from public.orders
        where status = 'open' and tenant_id = current_setting('app.current_tenant_id', true) $$;
create function orders_with_status(wanted text) returns setof orders
  language sql stable set search_path = ''
  as $$ select * from public.orders where status = wanted $$;
