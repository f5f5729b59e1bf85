-- expect: any
-- static: rls.disabled
-- why: items is isolated, but the comments table added later has no RLS at all
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
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
create table comments (
  id bigserial primary key,
  tenant_id text not null,
  item_id bigint not null references items (id),
  body text not null
);
grant select, insert, update, delete on comments to {{app}};
grant usage on sequence comments_id_seq to {{app}};
