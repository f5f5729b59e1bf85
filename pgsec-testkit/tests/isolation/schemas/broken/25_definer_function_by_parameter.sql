-- expect: foreign_rows_visible
-- static: rls.definer_function
-- why: a SECURITY DEFINER function takes the tenant as a parameter and trusts it: any tenant passes another's id and gets its rows
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
create function items_of(tenant text) returns table (id bigint, tenant_id text, body text)
  language sql stable security definer set search_path = ''
  as $$ select i.id, i.tenant_id, i.body from public.items i where i.tenant_id = tenant $$;
