-- expect: any
-- why: the policy function caches the tenant in a session-level setting, so the next tenant on the same pooled connection gets the first one's rows
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
create function current_tenant() returns text language plpgsql volatile as $$
declare
  cached text := current_setting('app.cached_tenant', true);
begin
  if cached is null or cached = '' then
    cached := current_setting('app.current_tenant_id', true);
    perform set_config('app.cached_tenant', cached, false);
  end if;
  return cached;
end
$$;
create policy tenant_isolation on items
  using (tenant_id = current_tenant())
  with check (tenant_id = current_tenant());
