-- expect: pass
-- why: uuid tenant ids; an empty or unset setting becomes NULL, which matches nothing
create table documents (
  id bigserial primary key,
  tenant_id uuid not null,
  title text not null
);
alter table documents enable row level security;
alter table documents force row level security;
create policy tenant_isolation on documents
  using (tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid);
grant select, insert, update, delete on documents to {{app}};
grant usage on sequence documents_id_seq to {{app}};
