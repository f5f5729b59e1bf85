-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.view_bypass
-- why: a view over a partitioned tenant table, without security_invoker, owned by a superuser: it reads every partition with the owner's rights
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
create view recent_events as select tenant_id, id, kind from events;
grant select on recent_events to {{app}};
