-- Admin tokens: a token with admin = 1 may create, list and revoke API tokens over the API (`/v1/tokens`).
-- 0 or 1 (BIGINT on both back ends, so the schemas stay alike); existing tokens are not admins.
ALTER TABLE api_tokens ADD COLUMN admin BIGINT NOT NULL DEFAULT 0;
