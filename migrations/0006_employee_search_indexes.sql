-- Keyword search over employees is one `ILIKE '%kw%'` over the search document the list engine
-- builds from name, email, role and department (searchDocumentSql in packages/db/src/list-query.ts;
-- the index expression below must stay identical to it, a test checks the planner can use it).
-- Without an index that scans the project's whole partition; a pg_trgm GIN index answers it for
-- keywords of 3+ characters (measured: bench/RESULTS.md). The extension ships with PostgreSQL's
-- contrib and is "trusted" (a database owner may create it); where the server lacks it, or the
-- role may not create it, search keeps working without the index.
--
-- The roles and departments filter catalog of QueryEmployees walks (project_id, role) and
-- (project_id, department) one distinct value at a time (`indexed: true` in the list spec)
-- instead of reading the whole partition on every call.
-- migrate:up
CREATE INDEX ix_altalune_example_employees_role ON altalune_example_employees (project_id, role);
CREATE INDEX ix_altalune_example_employees_department ON altalune_example_employees (project_id, department);

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
    RAISE NOTICE 'pg_trgm is not available on this server: employee keyword search stays unindexed';
    RETURN;
  END IF;
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not allowed to create pg_trgm: employee keyword search stays unindexed';
    RETURN;
  END;
  EXECUTE $sql$
    CREATE INDEX ix_altalune_example_employees_search_trgm ON altalune_example_employees USING gin (
      (coalesce("name"::text, '') || E'\x1f' || coalesce("email"::text, '') || E'\x1f' ||
       coalesce("role"::text, '') || E'\x1f' || coalesce("department"::text, '')) gin_trgm_ops)
  $sql$;
END $$;

-- migrate:down
DROP INDEX IF EXISTS ix_altalune_example_employees_search_trgm;
DROP INDEX ix_altalune_example_employees_department;
DROP INDEX ix_altalune_example_employees_role;
