-- Read-only access for analysts to the documented views, and to nothing else.
--
-- PostgreSQL only (SQLite has no roles: give analysts an export instead). Run it as the
-- owner of the ldn-inbox database (the role ldn-inbox connects as), after
-- `ldn-inbox db upgrade`, connected to that database:
--
--     psql "postgresql://OWNER@HOST/DBNAME" -v ON_ERROR_STOP=1 -f sql/analyst_role.sql
--
-- It creates the group role ldn_analyst (no login) once and grants it SELECT on the views.
-- A view reads its tables with its owner's rights, so members see the coded answers and the
-- pseudonymous respondent_id but cannot read messages, contacts, raw_messages, the audit
-- log or any other table. Give each analyst a login of their own:
--
--     CREATE ROLE jan LOGIN PASSWORD '...' IN ROLE ldn_analyst;
--
-- Run the script again after an upgrade that adds or replaces a view (it is idempotent).
-- Views documented in docs/analysts.md.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ldn_analyst') THEN
        CREATE ROLE ldn_analyst NOLOGIN;
    END IF;
    -- PUBLIC can connect by default; this keeps working where that was revoked.
    EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database()) || ' TO ldn_analyst';
END
$$;

GRANT USAGE ON SCHEMA public TO ldn_analyst;

-- Nothing on the tables, also if an earlier grant was made by hand.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ldn_analyst;

GRANT SELECT ON
    survey_responses,
    respondents,
    benefits_long,
    side_effects_long,
    review_queue,
    codebook_values
TO ldn_analyst;
