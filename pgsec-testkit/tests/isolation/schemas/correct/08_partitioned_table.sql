-- expect: pass
-- why: RLS on the partitioned table, privileges on it only: its partitions cannot be read directly
create table events (
  tenant_id text not null,
  id bigint generated always as identity,
  kind text not null
) partition by hash (tenant_id);
create table events_p0 partition of events for values with (modulus 2, remainder 0);
create table events_p1 partition of events for values with (modulus 2, remainder 1);
alter table events enable row level security;
alter table events force row level security;
create policy tenant_isolation on events
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on events to {{app}};
