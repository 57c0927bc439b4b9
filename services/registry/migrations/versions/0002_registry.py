"""Users, profiles, visibility consents, rights requests, erasures.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = (
    """
    CREATE TABLE users (
        user_id text PRIMARY KEY,
        full_name text NOT NULL, email_address text NOT NULL,
        country_of_residence char(2) NOT NULL, company_name text NOT NULL,
        company_country char(2) NOT NULL, company_registration_number text NOT NULL,
        business_support_network text NOT NULL, referral_source text NOT NULL,
        personal_address text, phone_number text, organisation_type text, tax_number text,
        number_of_employees integer CHECK (number_of_employees >= 0),
        language text NOT NULL DEFAULT 'en',
        restricted boolean NOT NULL DEFAULT false, objected boolean NOT NULL DEFAULT false,
        restriction_reason text,
        registered_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX users_email ON users (lower(email_address))",
    """
    CREATE TABLE profiles (
        profile_id uuid PRIMARY KEY,
        user_id text NOT NULL UNIQUE REFERENCES users (user_id) ON DELETE CASCADE,
        contact_person_full_name text NOT NULL, contact_person_gender text NOT NULL,
        contact_person_email text NOT NULL, contact_person_phone text NOT NULL,
        service_name text NOT NULL, service_type text NOT NULL, service_description text NOT NULL,
        organisation_name text NOT NULL, organisation_email text NOT NULL,
        organisation_phone text NOT NULL, organisation_logo text NOT NULL,
        company_registration_country char(2) NOT NULL,
        published_at timestamptz,
        created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE INDEX profiles_published ON profiles (published_at, profile_id)
        WHERE published_at IS NOT NULL
    """,
    """
    CREATE TABLE visibility_consents (
        consent_id text PRIMARY KEY, user_id text NOT NULL,
        version integer NOT NULL, active boolean NOT NULL
    )
    """,
    "CREATE INDEX visibility_consents_user ON visibility_consents (user_id)",
    """
    CREATE TABLE rights_requests (
        request_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id text NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,
        requested_by text NOT NULL, fields text[] NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX rights_requests_user ON rights_requests (user_id, request_id)",
    """
    CREATE TABLE erasures (
        user_id text PRIMARY KEY, erased_at timestamptz NOT NULL, requested_by text NOT NULL
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("erasures", "rights_requests", "visibility_consents", "profiles", "users"):
        op.execute(f"DROP TABLE {table}")
