-- expect: row_moved_to_other_tenant
-- why: the UPDATE policy checks the old row only (WITH CHECK (true)), so a row can be handed to another tenant
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
create policy items_select on items for select using (tenant_id = current_setting('app.current_tenant_id', true));
create policy items_insert on items for insert with check (tenant_id = current_setting('app.current_tenant_id', true));
create policy items_delete on items for delete using (tenant_id = current_setting('app.current_tenant_id', true));
create policy items_update on items for update using (tenant_id = current_setting('app.current_tenant_id', true)) with check (true);
