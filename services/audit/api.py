"""HTTP routes of the audit service."""

from fastapi import APIRouter

router = APIRouter(tags=["audit"])
