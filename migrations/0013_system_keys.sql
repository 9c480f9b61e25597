-- Authorization data keyed on what an administrator cannot rename. A system permission (one the
-- proto rules or the seed name) and a built-in role carry a stable `system_key`; rules, token
-- claims, the seed and the built-in role look-ups use the key, never the editable name. Custom
-- rows have no key (NULL) and stay renamable.
--
-- Backfill: at this version the seed had created exactly the rows below, found by name; rows
-- carrying those names now are adopted once, here. From now on the seed finds rows by key only
-- and renames aside a custom row that collides with a new system key (see domains/iam/seed.ts).
-- migrate:up
ALTER TABLE altalune_permissions ADD COLUMN system_key VARCHAR(100);
ALTER TABLE altalune_permissions
  ADD CONSTRAINT chk_altalune_permissions_system_key CHECK (system_key IS NULL OR system_key = name);
CREATE UNIQUE INDEX ux_altalune_permissions_system_key ON altalune_permissions (system_key);

ALTER TABLE altalune_roles ADD COLUMN system_key VARCHAR(50);
CREATE UNIQUE INDEX ux_altalune_roles_system_key ON altalune_roles (system_key);

-- A system permission's name is its key, spelt exactly (an operator's case-only rename undone).
UPDATE altalune_permissions SET system_key = lower(name), name = lower(name)
WHERE lower(name) IN (
  'root', 'dashboard:read', 'iam:read', 'iam:write',
  'employee:read', 'employee:write', 'employee:delete',
  'user:read', 'user:write', 'user:delete',
  'role:read', 'role:write', 'role:delete',
  'permission:read', 'permission:write', 'permission:delete',
  'project:read', 'project:write', 'project:delete',
  'apikey:read', 'apikey:write', 'apikey:delete',
  'chatbot:read', 'chatbot:write', 'chatbot:delete',
  'client:read', 'client:write', 'client:delete',
  'provider:read', 'provider:write', 'provider:delete',
  'member:read', 'member:write', 'member:delete');

UPDATE altalune_roles SET system_key = lower(name) WHERE lower(name) IN ('superadmin', 'user');

-- migrate:down
DROP INDEX ux_altalune_roles_system_key;
ALTER TABLE altalune_roles DROP COLUMN system_key;
DROP INDEX ux_altalune_permissions_system_key;
ALTER TABLE altalune_permissions DROP CONSTRAINT chk_altalune_permissions_system_key;
ALTER TABLE altalune_permissions DROP COLUMN system_key;
