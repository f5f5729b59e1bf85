-- expect: incomplete
-- exclude: public.raw_items
-- why: a function returns SETOF record without OUT columns, so a call needs a column list the checker cannot know
create table items (
  id bigserial primary key,
  tenant_id text not null,
  body text not null
);
alter table items enable row level security;
alter table items force row level security;
create policy tenant_isolation on items
  using (tenant_id = current_setting('app.current_tenant_id', true))
  with check (tenant_id = current_setting('app.current_tenant_id', true));
grant select, insert, update, delete on items to {{app}};
grant usage on sequence items_id_seq to {{app}};
create function raw_items() returns setof record
  language sql stable set search_path = ''
  as $$ select id, body from public.items $$;
