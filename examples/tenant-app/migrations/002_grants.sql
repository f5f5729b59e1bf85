-- The application connects as pgsec_app (the testkit's application role): no
-- superuser, no BYPASSRLS, only the rights it needs.
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO pgsec_app;
GRANT USAGE ON SEQUENCE notes_id_seq TO pgsec_app;
