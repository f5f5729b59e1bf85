-- expect: pass
-- why: integer tenant ids compared as integers, never as text
create table accounts (
  id bigserial primary key,
  tenant_id bigint not null,
  name text not null
);
alter table accounts enable row level security;
alter table accounts force row level security;
create policy tenant_isolation on accounts
  using (tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::bigint)
  with check (tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::bigint);
grant select, insert, update, delete on accounts to {{app}};
grant usage on sequence accounts_id_seq to {{app}};
