"""The registry's pure rules and the validated types for personal data."""

import pytest

from services.registry.domain import (
    DISCLOSABLE_FIELDS,
    PROFILE_FIELDS,
    RegistryRuleError,
    Restriction,
    changed_fields,
    check_fields,
    check_publishable,
    select_fields,
)
from shared.validation import country_code, phone_number


def test_check_fields_names_every_field_the_registry_does_not_hold() -> None:
    with pytest.raises(RegistryRuleError, match=r"^fields: password, shoe_size not held"):
        check_fields(["email_address", "shoe_size", "password"])


def test_check_fields_needs_at_least_one() -> None:
    with pytest.raises(RegistryRuleError, match="at least one"):
        check_fields([])


def test_disclosable_fields_are_the_consent_categories_the_registry_holds() -> None:
    assert {"email_address", "full_name", "contact_person_phone"} <= DISCLOSABLE_FIELDS
    assert "password" not in DISCLOSABLE_FIELDS


def test_select_fields_takes_profile_fields_from_the_profile() -> None:
    registration = {"full_name": "Ana", "email_address": "ana@example.org"}
    profile = {"service_name": "Coaching", "full_name": "not this one"}
    assert select_fields({"full_name", "service_name"}, registration, profile) == {
        "full_name": "Ana",
        "service_name": "Coaching",
    }
    assert select_fields({"service_name"}, registration, None) == {"service_name": None}
    assert "service_name" in PROFILE_FIELDS


def test_changed_fields_keeps_only_real_changes() -> None:
    current = {"company_name": "A", "tax_number": None}
    assert changed_fields(current, {"company_name": "A", "tax_number": "T-1"}) == {
        "tax_number": "T-1"
    }


def test_publishing_needs_consent_and_no_restriction() -> None:
    check_publishable(has_consent=True, restriction=Restriction())
    with pytest.raises(RegistryRuleError, match=r"^consent: "):
        check_publishable(has_consent=False, restriction=Restriction())
    with pytest.raises(RegistryRuleError, match=r"^restriction: the user has objected"):
        check_publishable(has_consent=True, restriction=Restriction(objected=True))


@pytest.mark.parametrize(("given", "code"), [("ph", "PH"), (" th ", "TH"), ("VN", "VN")])
def test_country_codes_are_normalised(given: str, code: str) -> None:
    assert country_code(given) == code


@pytest.mark.parametrize("given", ["XX", "PHL", "Philippines", ""])
def test_unknown_country_codes_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 3166-1 alpha-2"):
        country_code(given)


def test_phone_numbers_become_e164_reading_national_numbers_in_the_region() -> None:
    assert phone_number("+66 2 123 4567") == "+6621234567"
    assert phone_number("02 8123 4567", "PH") == "+63281234567"


@pytest.mark.parametrize("given", ["12", "+63 1", "call me"])
def test_invalid_phone_numbers_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        phone_number(given)
