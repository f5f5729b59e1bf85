-- expect: foreign_rows_visible | foreign_row_deleted | foreign_row_changed
-- static: rls.policy_loose_match
-- why: LIKE with the tenant id as the pattern: '_' in tenant 'ac_e' matches tenant 'acme'
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
create policy tenant_isolation on items
  using (tenant_id like current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
