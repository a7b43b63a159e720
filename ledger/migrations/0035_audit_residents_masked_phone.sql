-- Up Migration
-- The auditor's 附件2 and 台账 (issue 22 item 4): a phone number is personal data an auditor does not need in
-- full, but "has the village a number to call" is what an audit of the mobilisation checks. audit.residents
-- gains the phone masked to its last 4 digits (mask_account, as audit.person_facts shows it); the address
-- stays out of the view. CREATE OR REPLACE keeps the view's grants and only adds a column at the end.
CREATE OR REPLACE VIEW audit.residents AS
  SELECT id, jurisdiction, mask_id(id_number) AS id_number, name, sex, birth_date, household_id, town_id, village_id,
         residency, employee_insured, deceased_on, mask_account(phone) AS phone
  FROM public.residents;

-- Down Migration
DROP VIEW audit.residents;
CREATE VIEW audit.residents AS
  SELECT id, jurisdiction, mask_id(id_number) AS id_number, name, sex, birth_date, household_id, town_id, village_id,
         residency, employee_insured, deceased_on
  FROM public.residents;
GRANT SELECT ON audit.residents TO medins_auditor;
