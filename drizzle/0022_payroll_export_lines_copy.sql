-- The lines of exports recorded as one jsonb array each become rows of payroll_export_lines, in
-- the order they were handed out; the array is then emptied (null), so a line lives in one place
-- and the retention purge (emails dropped from old exports) has one place to look.
INSERT INTO "payroll_export_lines" ("export_id", "seq", "line_type", "employee_id", "open_id", "email", "leave_type", "date", "quantity", "unit", "instance_code", "kind", "paid_type")
SELECT e."id", l.i::int, 'line', l.v->>'employee_id', l.v->>'open_id', l.v->>'email', l.v->>'leave_type', (l.v->>'date')::date,
       (l.v->>'quantity')::numeric, l.v->>'unit', l.v->>'instance_code', l.v->>'kind', (l.v->>'paid_type')::int
FROM "payroll_exports" e, jsonb_array_elements(e."lines") WITH ORDINALITY AS l(v, i)
WHERE e."lines" IS NOT NULL AND jsonb_typeof(e."lines") = 'array';
--> statement-breakpoint
UPDATE "payroll_exports" SET "lines" = NULL WHERE "lines" IS NOT NULL;
