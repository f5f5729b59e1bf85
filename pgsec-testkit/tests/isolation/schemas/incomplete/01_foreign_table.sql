-- expect: incomplete
-- exclude: public.remote_items
-- why: a foreign table with a tenant column is granted to the application; its rows live on another server, which the checker does not seed, so the verdict cannot be clean (unless the user excludes it)
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
create foreign data wrapper pgsec_dummy_fdw;
create server pgsec_remote foreign data wrapper pgsec_dummy_fdw;
create foreign table remote_items (tenant_id text, body text) server pgsec_remote;
grant select on remote_items to {{app}};
