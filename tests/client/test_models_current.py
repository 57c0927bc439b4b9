"""The client's models are what the services publish: generated from each app's OpenAPI
document again, they are byte for byte the files checked in."""

import pytest

from devtools import openapi_models


@pytest.mark.parametrize("service", openapi_models.SERVICES)
def test_the_checked_in_models_match_the_services_openapi(service: str) -> None:
    checked_in = (openapi_models.MODELS / f"{service}.py").read_text()
    assert checked_in == openapi_models.generate(service), (
        f"client/models/{service}.py is out of date: run python -m devtools.openapi_models"
    )
