"""Obligations under the breach-notification regimes (issue 24).

``affected.country`` keeps each person's country of residence as the breach took them
in (from the subjects the service knows). ``obligations`` holds one row per (breach,
regime, recipient) as last derived from ``regimes.toml``: its requirement and reason,
its anchor and deadline, its warning points, and its state (``pending``, ``met``,
``late``, ``not_required``) with the evidence of meeting it. ``obligation_marks``
records each warning and missed deadline fired, once per (obligation, point).
``assessments`` keeps every risk assessment recorded (append only: who, when, the
findings, the text kept on file). ``breach_countries`` counts a breach's people by
country of residence, as each page of scope adds them ('' for people whose country the
service does not know).

Every breach that exists when this runs gets one obligation: GDPR's, to the regulator,
72 hours from awareness, as the service counted before, with its state taken from the
regulator decision already recorded, and the points its clock already fired as that
obligation's marks. Its people are counted by country from the subjects
the service knows. Nothing else changes.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = (
    # Each person's country of residence when the breach took them in: the regimes
    # covering them, and so the deadline of their notice, follow from it.
    "ALTER TABLE affected ADD COLUMN country text",
    """
    UPDATE affected a SET country = s.country FROM subjects s
    WHERE s.user_id = a.user_id AND s.country IS NOT NULL
    """,
    """
    CREATE TABLE obligations (
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        regime text NOT NULL,
        recipient text NOT NULL CHECK (recipient IN ('regulator', 'people')),
        requirement text NOT NULL
            CHECK (requirement IN ('required', 'not_required', 'undetermined')),
        reason text NOT NULL,
        people bigint NOT NULL,
        anchor text NOT NULL,
        anchor_at timestamptz,
        anchor_note text,
        deadline_rule text NOT NULL,
        deadline_at timestamptz,
        warnings_at timestamptz[] NOT NULL DEFAULT '{}',
        extended_until timestamptz,
        phases_until timestamptz,
        no_delay boolean NOT NULL DEFAULT false,
        late_requires_reasons boolean NOT NULL DEFAULT false,
        after_regulator boolean NOT NULL DEFAULT false,
        assessment_due_at timestamptz,
        assessment_on_file boolean NOT NULL DEFAULT false,
        content text[] NOT NULL DEFAULT '{}',
        form text,
        unverified text[] NOT NULL DEFAULT '{}',
        disclaimer text NOT NULL,
        state text NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'met', 'late', 'not_required')),
        met_at timestamptz,
        met_by text,
        delay_reasons text,
        evidence jsonb NOT NULL DEFAULT '{}',
        derived_at timestamptz NOT NULL,
        PRIMARY KEY (breach_id, regime, recipient)
    )
    """,
    """
    CREATE TABLE obligation_marks (
        breach_id uuid NOT NULL,
        regime text NOT NULL,
        recipient text NOT NULL,
        mark text NOT NULL CHECK (mark IN ('warning', 'missed')),
        point_at timestamptz NOT NULL,
        fired_at timestamptz NOT NULL,
        PRIMARY KEY (breach_id, regime, recipient, mark, point_at),
        FOREIGN KEY (breach_id, regime, recipient) REFERENCES obligations
    )
    """,
    """
    CREATE TABLE assessments (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        assessed_by text NOT NULL,
        concluded_at timestamptz NOT NULL,
        findings text[] NOT NULL,
        sensitive boolean NOT NULL,
        text text NOT NULL,
        recorded_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX assessments_breach ON assessments (breach_id, seq)",
    """CREATE TRIGGER assessments_append_only BEFORE UPDATE OR DELETE ON assessments
        FOR EACH ROW EXECUTE FUNCTION breach_append_only()""",
    """CREATE TRIGGER assessments_no_truncate BEFORE TRUNCATE ON assessments
        FOR EACH STATEMENT EXECUTE FUNCTION breach_append_only()""",
    """
    CREATE TABLE breach_countries (
        breach_id uuid NOT NULL REFERENCES breaches (breach_id),
        country text NOT NULL,
        people bigint NOT NULL,
        PRIMARY KEY (breach_id, country)
    )
    """,
    # The breaches made before: their people by country, from the subjects known.
    """
    INSERT INTO breach_countries (breach_id, country, people)
    SELECT breach_id, coalesce(country, ''), count(*) FROM affected
    GROUP BY breach_id, coalesce(country, '')
    """,
    # ... and the one obligation the service ran for each: GDPR's 72 hours to the
    # regulator from awareness, met (or late) if the decision recorded a report.
    """
    INSERT INTO obligations (
        breach_id, regime, recipient, requirement, reason, people, anchor, anchor_at,
        deadline_rule, deadline_at, warnings_at, late_requires_reasons, content, disclaimer,
        state, met_at, met_by, delay_reasons, evidence, derived_at)
    SELECT b.breach_id, 'eu', 'regulator',
        CASE WHEN b.decision = 'not_report' THEN 'not_required' ELSE 'required' END,
        CASE WHEN b.decision = 'not_report'
            THEN 'decided not to report: ' || coalesce(b.decision_reason, '')
            ELSE 'declared before obligations were derived: the service counted GDPR''s '
                 '72 hours from awareness for every breach' END,
        (SELECT count(*) FROM affected a WHERE a.breach_id = b.breach_id),
        'awareness', b.aware_at, 'hours', b.aware_at + interval '72 hours',
        ARRAY[b.aware_at + interval '24 hours', b.aware_at + interval '48 hours',
              b.aware_at + interval '66 hours'],
        true,
        ARRAY['nature', 'subjects', 'records', 'contact_point', 'likely_consequences',
              'measures_taken'],
        'Computed from the row ''eu'' of services/breach/regimes.toml '
            '(last reviewed 2026-12-07), not legal advice.',
        CASE
            WHEN b.decision = 'not_report' THEN 'not_required'
            WHEN b.decision = 'report' AND b.reported_at > b.aware_at + interval '72 hours'
                THEN 'late'
            WHEN b.decision = 'report' THEN 'met'
            ELSE 'pending' END,
        CASE WHEN b.decision = 'report' THEN b.reported_at END,
        CASE WHEN b.decision = 'report' THEN b.decided_by END,
        b.delay_reasons,
        CASE WHEN b.decision IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('authority', b.authority, 'decided_at', b.decided_at,
                                    'migrated_from', 'regulator_decision') END,
        coalesce(b.decided_at, b.declared_at)
    FROM breaches b
    """,
    # The points the breach's clock already fired stand for that obligation's too: a
    # migrated breach is not warned a second time of what it was warned of.
    """
    INSERT INTO obligation_marks (breach_id, regime, recipient, mark, point_at, fired_at)
    SELECT m.breach_id, 'eu', 'regulator', m.mark,
        b.aware_at + make_interval(hours => m.point_hours), m.fired_at
    FROM clock_marks m JOIN breaches b ON b.breach_id = m.breach_id
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in ("breach_countries", "assessments", "obligation_marks", "obligations"):
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE affected DROP COLUMN country")
