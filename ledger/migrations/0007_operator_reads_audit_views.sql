-- Up Migration
-- Reports an operator prints (report progress) read the masked audit views, never the tables holding
-- national ID and bank numbers, so operators and auditors run the same report code under their own roles.
GRANT USAGE ON SCHEMA audit TO medins_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO medins_operator;
GRANT EXECUTE ON FUNCTION mask_id(text), mask_account(text) TO medins_operator;

-- Down Migration
REVOKE EXECUTE ON FUNCTION mask_id(text), mask_account(text) FROM medins_operator;
REVOKE SELECT ON ALL TABLES IN SCHEMA audit FROM medins_operator;
REVOKE USAGE ON SCHEMA audit FROM medins_operator;
