"""HTTP routes of the breach service."""

from fastapi import APIRouter

router = APIRouter(tags=["breach"])
