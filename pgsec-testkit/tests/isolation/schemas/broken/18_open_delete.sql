-- expect: foreign_row_deleted
-- why: the DELETE policy was written USING (true)
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
create policy items_update on items for update using (tenant_id = current_setting('app.current_tenant_id', true)) with check (tenant_id = current_setting('app.current_tenant_id', true));
create policy items_delete on items for delete using (true);
