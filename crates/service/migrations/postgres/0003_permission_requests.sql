-- ERC-7715 permission requests (docs/erc7715.md, "The service"): a dApp's request is stored as a pending grant
-- until the owner approves it on the consent page (the owner-signed grant token and the response are kept) or
-- rejects it. A revocation the dApp asks for is recorded here; the chain decides when it has happened.
CREATE TABLE permission_requests (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    method TEXT NOT NULL,
    request TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    grant_token TEXT,
    account TEXT,
    session_id TEXT,
    response TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    revoke_requested_at BIGINT
);
CREATE INDEX permission_requests_fingerprint ON permission_requests (fingerprint, state);
