-- expect: pass
-- tenant-columns: org_id
-- setting: app.org
-- why: another tenant column name and setting, given to the checker; a table without the column is not a tenant table
create table members (
  id bigserial primary key,
  org_id text not null,
  email text not null
);
alter table members enable row level security;
alter table members force row level security;
create policy org_isolation on members
  using (org_id = current_setting('app.org', true))
  with check (org_id = current_setting('app.org', true));
create table countries (code text primary key);
insert into countries values ('de'), ('fr');
grant select on countries to {{app}};
grant select, insert, update, delete on members to {{app}};
grant usage on sequence members_id_seq to {{app}};
