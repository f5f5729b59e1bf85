-- expect: foreign_rows_visible | rows_without_tenant | foreign_row_deleted | foreign_row_changed
-- static: rls.policy_loose_match
-- why: integer tenants compared as text with LIKE: tenant 4 sees tenants 41 and 407, and an empty setting matches every tenant
create table accounts (
  id bigserial primary key,
  tenant_id bigint not null,
  name text not null
);
alter table accounts enable row level security;
alter table accounts force row level security;
create policy tenant_isolation on accounts
  using (tenant_id::text like current_setting('app.current_tenant_id', true) || '%')
  with check (tenant_id::text = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on accounts to {{app}};
grant usage on sequence accounts_id_seq to {{app}};
