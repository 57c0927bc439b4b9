"""HTTP routes of the notifier service."""

from fastapi import APIRouter

router = APIRouter(tags=["notifier"])
