"""HTTP routes of the consent service."""

from fastapi import APIRouter

router = APIRouter(tags=["consent"])
