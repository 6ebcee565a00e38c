"""The whole schema: every model module imported once, so its metadata is complete.

Alembic's environment and the test that migrations match the models read `metadata` from
here; a model module that is not imported here would be invisible to both.
"""

from __future__ import annotations

from hisaab.storage import kpi_models, models, realtime_models, settlement_models

metadata = models.Base.metadata
MODEL_MODULES = (models, kpi_models, realtime_models, settlement_models)
