"""Routes of the jobs area (being built: see the issue notes)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["jobs"])
