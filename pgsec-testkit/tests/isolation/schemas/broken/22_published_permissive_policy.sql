-- expect: foreign_rows_visible | rows_without_tenant
-- static: rls.policy_ignores_tenant
-- why: "show published items" was added as a second PERMISSIVE policy FOR SELECT USING (published): OR-ed with the tenant policy, every tenant's published rows are visible (the seeds must set published both ways to see it)
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null,
  published boolean not null default false
);
alter table items enable row level security;
alter table items force row level security;
create policy tenant_isolation on items
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
create policy published_rows on items for select using (published);
