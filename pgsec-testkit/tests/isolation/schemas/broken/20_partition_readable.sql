-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.disabled
-- why: RLS is on the partitioned table only; the partitions are granted too, and reading a partition directly applies its own (absent) policies
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
grant select, insert, update, delete on events, events_p0, events_p1 to {{app}};
