-- expect: pass
-- why: USING (true) and FOR SELECT USING (published) are permissive, but a RESTRICTIVE tenant policy for every command is AND-ed with them: published rows of other tenants stay hidden
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null,
  published boolean not null default false
);
alter table items enable row level security;
alter table items force row level security;
create policy app_access on items using (true) with check (true);
create policy published_rows on items for select using (published);
create policy tenant_isolation on items as restrictive
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
