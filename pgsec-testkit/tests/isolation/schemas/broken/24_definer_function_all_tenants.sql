-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.definer_function
-- why: a SECURITY DEFINER function owned by a superuser returns every tenant's open orders, and the application may execute it (PUBLIC holds EXECUTE by default)
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
create function open_orders() returns setof orders
  language sql stable security definer set search_path = ''
  as $$ select * from public.orders where status = 'open' $$;
